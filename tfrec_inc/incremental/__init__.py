"""Incremental updates: which data each strategy trains on, and the training loop."""
