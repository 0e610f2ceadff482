"""The inspector dock: node and campaign settings (see :mod:`.panel`)."""

from .panel import InspectorPanel

__all__ = ["InspectorPanel"]
