"""Pretrained text encoders exported as TF Hub-style SavedModels."""
