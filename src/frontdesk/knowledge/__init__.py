"""Knowledge: atoms and documents parsed, chunked, indexed and searched."""
