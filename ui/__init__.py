"""Streamlit-only helpers shared by the pages (header, code panel, runner, cached loaders, i18n)."""
