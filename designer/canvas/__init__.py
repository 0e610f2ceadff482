"""The journey canvas: scene, items, view, gestures and layout (see ``widget.py``)."""
