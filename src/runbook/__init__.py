"""Execute Django migration runbooks (Jupyter notebooks) against real databases."""
