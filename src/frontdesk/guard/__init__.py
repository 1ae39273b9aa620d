"""Safety: screening what comes in and what goes out."""
