"""Gradio widgets: each chapter's headline demo as an embeddable ``gr.Blocks``.

Every module ``widgets/chNN_<topic>.py`` exposes ``build(lang="en") -> gr.Blocks`` and
launches nothing on import. ``gradio_app.py`` mounts them all.
"""
