"""Light or dark: which one the system asks for, the user's choice, and colours for both.

Widgets take their colours from the application palette; the few colours we choose
ourselves — error/OK labels, the canvas, the code highlighter — ask :func:`is_dark`, so
the answer is computed one way.

Following the system: Qt updates the palette itself where a platform theme supports it
(Windows, macOS, GNOME/KDE). Where it does not — Linux without a platform theme, where
Fusion's palette stays light whatever the colour scheme says — :class:`Appearance`
installs a dark palette of its own. The user can also force Light or Dark (View ▸
Appearance, stored in QSettings under ``appearance/theme``); the change is live, no
restart: every widget gets a palette change event, and :attr:`Appearance.changed` tells
the non-widgets (the highlighter).
"""

from __future__ import annotations

from PySide6.QtCore import QObject, QSettings, Qt, Signal
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QWidget

ORGANIZATION = APPLICATION = "Journeys"  # the QSettings names of designer.main_window
SETTINGS_KEY = "appearance/theme"
SYSTEM, LIGHT, DARK = "system", "light", "dark"
CHOICES = (SYSTEM, LIGHT, DARK)

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


# --- palettes --------------------------------------------------------------------------------
# A neutral dark grey with a blue accent; the canvas's dark set (designer.canvas.style)
# is drawn from the same greys, so the docks and the canvas read as one window.
_DARK_ROLES = {
    "Window": "#2A2D33",
    "WindowText": "#E6E8EB",
    "Base": "#1F2126",
    "AlternateBase": "#272A30",
    "ToolTipBase": "#33363D",
    "ToolTipText": "#E6E8EB",
    "PlaceholderText": "#8A93A0",
    "Text": "#E6E8EB",
    "Button": "#33363D",
    "ButtonText": "#E6E8EB",
    "BrightText": "#FF8A80",
    "Light": "#4A4F58",
    "Midlight": "#3C4048",
    "Mid": "#4D525C",
    "Dark": "#18191D",
    "Shadow": "#0B0C0E",
    "Highlight": "#3B74D9",
    "HighlightedText": "#FFFFFF",
    "Link": "#7AB4FF",
    "LinkVisited": "#C4A2FF",
    "Accent": "#3B74D9",
}
_DARK_DISABLED = {
    "WindowText": "#7C838E",
    "Text": "#7C838E",
    "ButtonText": "#7C838E",
    "Base": "#25272C",
    "Button": "#2E3137",
    "Highlight": "#454A53",
    "HighlightedText": "#B8BDC6",
    "PlaceholderText": "#626973",
}


def dark_palette() -> QPalette:
    """The dark palette installed when the platform gives none (Fusion draws it well)."""
    palette = QPalette()
    for name, color in _DARK_ROLES.items():
        role = getattr(QPalette.ColorRole, name, None)
        if role is not None:  # Accent is Qt ≥ 6.6
            palette.setColor(role, QColor(color))
    for name, color in _DARK_DISABLED.items():
        role = getattr(QPalette.ColorRole, name)
        palette.setColor(QPalette.ColorGroup.Disabled, role, QColor(color))
    return palette


def light_palette() -> QPalette:
    """The style's own light palette (Fusion's on Linux), for Light over a dark system."""
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance()
    if isinstance(app, QApplication):
        palette = app.style().standardPalette()
        if palette.color(QPalette.ColorRole.Window).lightnessF() >= 0.5:
            return palette
    from PySide6.QtWidgets import QStyleFactory

    fusion = QStyleFactory.create("Fusion")
    return fusion.standardPalette()


def paper(widget: QWidget) -> None:
    """Show an email as its recipient sees it: dark text on light paper in every scheme.

    Email HTML sets light backgrounds but rarely a text colour, so in a dark palette the
    inherited light text vanishes on them.
    """
    palette = widget.palette()
    light = light_palette()
    for role in (QPalette.ColorRole.Base, QPalette.ColorRole.Text, QPalette.ColorRole.Link):
        palette.setColor(role, light.color(role))
    widget.setPalette(palette)


# --- following the system and the user's choice ---------------------------------------------
class Appearance(QObject):
    """The application's scheme: the system's or the user's choice, applied live.

    One per application (:func:`appearance`). ``changed(dark)`` is emitted whenever the
    palette in force flips between light and dark, whoever flipped it.
    """

    changed = Signal(bool)

    def __init__(self, app: QGuiApplication) -> None:
        super().__init__(app)
        self._app = app
        hints = app.styleHints()
        self._system = hints.colorScheme()
        self._installed = False  # the application palette is one of ours
        self._dark = is_dark()
        hints.colorSchemeChanged.connect(self._on_system_scheme)
        if hasattr(app, "paletteChanged"):  # deprecated in Qt 6; widgets also report it
            app.paletteChanged.connect(self._on_palette)

    # the user's choice ---------------------------------------------------------------------
    def preference(self) -> str:
        value = QSettings(ORGANIZATION, APPLICATION).value(SETTINGS_KEY, SYSTEM)
        return value if value in CHOICES else SYSTEM

    def set_preference(self, choice: str) -> None:
        """Store ``choice`` (system, light or dark) and apply it now."""
        if choice not in CHOICES:
            raise ValueError(f"appearance must be one of {', '.join(CHOICES)}: {choice!r}")
        settings = QSettings(ORGANIZATION, APPLICATION)
        if choice == SYSTEM:
            settings.remove(SETTINGS_KEY)
        else:
            settings.setValue(SETTINGS_KEY, choice)
        settings.sync()
        self.apply()

    def system_scheme(self) -> Qt.ColorScheme:
        """What the system last asked for (Unknown when the platform does not say)."""
        return self._system

    def wants_dark(self) -> bool | None:
        """Dark or light as chosen or asked for; None when nobody says (keep Qt's)."""
        choice = self.preference()
        if choice != SYSTEM:
            return choice == DARK
        if self._system == Qt.ColorScheme.Dark:
            return True
        if self._system == Qt.ColorScheme.Light:
            return False
        return None

    # applying ------------------------------------------------------------------------------
    def apply(self) -> None:
        """Make the application palette match :meth:`wants_dark` (idempotent)."""
        self._request_platform_scheme()
        want = self.wants_dark()
        if self._installed:
            if want is not None and want == is_dark():
                self.check()
                return
            # Give the platform its say again (it may follow the system by itself).
            self._installed = False
            self._app.setPalette(QPalette())
        if want is not None and want != is_dark():
            self._install(dark_palette() if want else light_palette())
        self.check()

    def _request_platform_scheme(self) -> None:
        """Ask the platform theme for the chosen scheme (Qt ≥ 6.8; a no-op elsewhere)."""
        hints = self._app.styleHints()
        choice = self.preference()
        if choice == SYSTEM:
            if hasattr(hints, "unsetColorScheme"):
                hints.unsetColorScheme()
        elif hasattr(hints, "setColorScheme"):
            hints.setColorScheme(Qt.ColorScheme.Dark if choice == DARK else Qt.ColorScheme.Light)

    def _install(self, palette: QPalette) -> None:
        from PySide6.QtWidgets import QApplication

        app = self._app
        # Native Windows styles paint their own greys whatever the palette says.
        if isinstance(app, QApplication) and app.style().name().lower() in (
            "windows",
            "windowsvista",
        ):
            app.setStyle("Fusion")
        self._installed = True
        app.setPalette(palette)

    def check(self) -> None:
        """Emit ``changed`` if the palette in force flipped since last seen."""
        dark = is_dark()
        if dark != self._dark:
            self._dark = dark
            self.changed.emit(dark)

    def _on_system_scheme(self, scheme: Qt.ColorScheme) -> None:
        # Qt has updated its own palette by now (if it can); choose ours to match.
        if scheme == self._system:
            return
        self._system = scheme
        if self.preference() == SYSTEM:
            self.apply()

    def _on_palette(self, _palette: QPalette) -> None:
        self.check()


_appearance: Appearance | None = None


def appearance() -> Appearance:
    """The application's :class:`Appearance` (made on first use; needs a QGuiApplication)."""
    global _appearance
    app = QGuiApplication.instance()
    if not isinstance(app, QGuiApplication):
        raise RuntimeError("appearance() needs a QGuiApplication")
    try:
        alive = _appearance is not None and _appearance.parent() is app
    except RuntimeError:  # the application it belonged to is gone
        alive = False
    if not alive or _appearance is None:
        _appearance = Appearance(app)
    return _appearance


def install() -> Appearance:
    """Apply the stored choice (System by default) and follow the system from now on."""
    controller = appearance()
    controller.apply()
    return controller
