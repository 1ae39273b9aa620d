"""HTTP API (FastAPI). `create_app` is the factory; nothing is built at import."""
