"""Cross-domain transfer and model fusion."""
