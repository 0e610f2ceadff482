"""Light or dark: which one the system asks for, and status colours readable on both.

Widgets take their colours from the application palette (Qt follows the system scheme on
its own); only the few colours we choose ourselves — error/OK labels, the canvas — must
ask which scheme is in force, and they ask here so the answer is computed one way.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication, QPalette

_STATUS = {
    # (light, dark): the dark variants keep a 4.5:1 contrast on Qt's dark window colour.
    "error": ("#B42318", "#FF8A80"),
    "ok": ("#067647", "#6EE7B7"),
    "warning": ("#B54708", "#FCD34D"),
}


def is_dark() -> bool:
    """True when the application is showing a dark palette.

    The style hint is what the system asked for; the palette is what is actually in force
    (a platform theme or an explicit palette may differ), so the palette decides when
    there is one.
    """
    app = QGuiApplication.instance()
    if not isinstance(app, QGuiApplication):
        return False
    window = app.palette().color(QPalette.ColorRole.Window)
    if window.isValid():
        return window.lightnessF() < 0.5
    return app.styleHints().colorScheme() == Qt.ColorScheme.Dark


def status_color(kind: str) -> str:
    """The hex colour for an ``error`` / ``ok`` / ``warning`` message in this scheme."""
    light, dark = _STATUS[kind]
    return dark if is_dark() else light


def status_css(error: bool) -> str:
    """A style sheet for a one-line result label: red when ``error``, else green."""
    return f"color: {status_color('error' if error else 'ok')};"
