"""The campaign dashboard window and its parts."""

from .window import DashboardWindow

__all__ = ["DashboardWindow"]
