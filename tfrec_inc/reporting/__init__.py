"""Tables and plots: pure functions of ``metrics.csv``."""
