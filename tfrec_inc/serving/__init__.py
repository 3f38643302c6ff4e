"""Serving: real-time recommendations (and, later, exported models with indexes)."""
