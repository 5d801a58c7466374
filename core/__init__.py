"""Shared core of the gallery: pure PyTorch, NumPy and plotly; no UI library is imported here."""
