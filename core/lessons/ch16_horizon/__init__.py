"""Chapter 16 — the horizon."""
