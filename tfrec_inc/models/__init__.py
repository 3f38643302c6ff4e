"""Towers, retrieval and ranking models, and growable id vocabularies."""
