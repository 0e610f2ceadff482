"""Light and dark: the system's scheme and the user's choice reach the painted canvas and
the widgets live; the choice is remembered; sprites are kept per scheme; a 2x screen gets
a real 2x picture."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QPointF, QRect, QRectF, QSettings, Qt
from PySide6.QtGui import QColor, QGuiApplication, QImage, QPainter, QPalette
from PySide6.QtWidgets import QApplication, QPlainTextEdit
from pytestqt.qtbot import QtBot

from designer import theme
from designer.canvas import sprites, style
from engine.clock import FixedClock
from engine.db import Database
from tests.conftest import T0
from tests.designer.conftest import import_template

Window = QPalette.ColorRole.Window


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, qapp: QApplication) -> Iterator[None]:
    """Settings in a per-test folder; afterwards System again, Qt's own palette, light."""
    for fmt in (QSettings.Format.NativeFormat, QSettings.Format.IniFormat):
        QSettings.setPath(fmt, QSettings.Scope.UserScope, str(tmp_path / "settings"))
    controller = theme.appearance()
    system = controller.system_scheme()
    yield
    controller.set_preference(theme.SYSTEM)
    qapp.styleHints().colorSchemeChanged.emit(system)
    qapp.setPalette(QPalette())
    style.sync()
    assert not theme.is_dark()


@pytest.fixture
def database(tmp_path: Path) -> Iterator[Database]:
    db = Database(f"sqlite:///{tmp_path / 'journeys.db'}")
    yield db
    db.dispose()


@pytest.fixture
def canvas(qtbot: QtBot, database: Database, clock: FixedClock) -> Iterator[Any]:
    from designer.canvas.widget import CanvasWidget

    cid = import_template(database, "welcome_flow", clock.now())
    widget = CanvasWidget(database, cid, clock)
    qtbot.addWidget(widget)
    widget.resize(1000, 700)
    widget.show()
    qtbot.waitExposed(widget)
    widget.view.reset_zoom()
    widget.view.centerOn(widget.scene.item_for_key["welcome"])
    yield widget
    widget.scene.clearSelection()


def grab(canvas: Any, qtbot: QtBot) -> QImage:
    qtbot.wait(20)  # let queued repaints and re-polishes run
    return canvas.view.viewport().grab().toImage()


def lightness(image: QImage, x: int, y: int) -> float:
    return image.pixelColor(x, y).lightnessF()


def background_lightness(image: QImage) -> float:
    """The canvas's colour: the most common lightness along the viewport's top rows
    (grid dots are rare, cards stay clear of the corner after centring)."""
    values = [round(lightness(image, x, y), 2) for y in (2, 3) for x in range(0, 120, 3)]
    return max(set(values), key=values.count)


def card_pixels(canvas: Any, key: str) -> tuple[QRectF, QPointF]:
    """A card's rectangle in viewport pixels and an empty spot inside it."""
    item = canvas.scene.item_for_key[key]
    rect = canvas.view.mapFromScene(item.sceneBoundingRect()).boundingRect()
    return QRectF(rect), QPointF(rect.right() - 40, rect.top() + 60)


def contrast(a: QColor, b: QColor) -> float:
    """WCAG contrast ratio of two colours."""

    def luminance(c: QColor) -> float:
        def channel(v: float) -> float:
            return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4

        return (
            0.2126 * channel(c.redF()) + 0.7152 * channel(c.greenF()) + 0.0722 * channel(c.blueF())
        )

    hi, lo = sorted((luminance(a), luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def brightest_in(image: QImage, rect: QRectF) -> float:
    return max(
        lightness(image, x, y)
        for y in range(int(rect.top()), int(rect.bottom()), 2)
        for x in range(int(rect.left()), int(rect.right()), 2)
    )


def test_choosing_dark_repaints_the_open_canvas_and_the_widgets(canvas: Any, qtbot: QtBot) -> None:
    light = grab(canvas, qtbot)
    _, inside = card_pixels(canvas, "welcome")
    assert background_lightness(light) > 0.9
    assert lightness(light, int(inside.x()), int(inside.y())) > 0.95  # a white card
    assert canvas.palette().color(Window).lightnessF() > 0.5

    theme.appearance().set_preference(theme.DARK)

    dark = grab(canvas, qtbot)
    assert theme.is_dark() and style.SCHEME == "dark"
    assert background_lightness(dark) < 0.15
    rect, inside = card_pixels(canvas, "welcome")
    card = lightness(dark, int(inside.x()), int(inside.y()))
    assert 0.1 < card < 0.3  # a dark card, set off from the darker canvas
    # Text is still readable: the card's title is drawn in a light ink.
    title = QRectF(rect.left() + 50, rect.top() + 30, 180, 20)
    assert brightest_in(dark, title) > 0.8
    # The widgets follow: the activity palette beside the canvas, the scene's background
    # (what exports and the overview fill with) and the overview itself.
    assert canvas.activity_palette.palette().color(Window).lightnessF() < 0.3
    assert canvas.scene.backgroundBrush().color() == style.DARK.canvas
    overview = canvas.minimap.grab().toImage()
    assert lightness(overview, overview.width() // 2, 6) < 0.2

    theme.appearance().set_preference(theme.LIGHT)
    assert background_lightness(grab(canvas, qtbot)) > 0.9
    assert canvas.palette().color(Window).lightnessF() > 0.5


def test_the_system_scheme_is_followed_live(canvas: Any, qtbot: QtBot, qapp: QApplication) -> None:
    """What Qt reports when the desktop switches: with no platform theme to darken the
    palette (offscreen, plain X11), ours is installed so the widgets follow too."""
    hints = qapp.styleHints()
    hints.colorSchemeChanged.emit(Qt.ColorScheme.Dark)
    assert qapp.palette().color(Window).lightnessF() < 0.3
    qtbot.wait(20)  # widgets take the new palette from the event loop
    assert canvas.view.palette().color(QPalette.ColorRole.Text).lightnessF() > 0.8
    assert background_lightness(grab(canvas, qtbot)) < 0.15

    hints.colorSchemeChanged.emit(Qt.ColorScheme.Light)
    assert qapp.palette().color(Window).lightnessF() > 0.5
    assert background_lightness(grab(canvas, qtbot)) > 0.9


def test_a_chosen_scheme_wins_over_the_system(
    canvas: Any, qtbot: QtBot, qapp: QApplication
) -> None:
    theme.appearance().set_preference(theme.LIGHT)
    qapp.styleHints().colorSchemeChanged.emit(Qt.ColorScheme.Dark)
    assert not theme.is_dark()
    assert background_lightness(grab(canvas, qtbot)) > 0.9
    theme.appearance().set_preference(theme.SYSTEM)  # now the system's dark applies
    assert theme.is_dark()
    assert background_lightness(grab(canvas, qtbot)) < 0.15


def test_the_choice_is_remembered_and_offered_in_the_view_menu(
    qtbot: QtBot, database: Database, clock: FixedClock
) -> None:
    from designer.main_window import MainWindow

    settings = QSettings(theme.ORGANIZATION, theme.APPLICATION)
    settings.setValue(theme.SETTINGS_KEY, theme.DARK)
    settings.sync()
    import_template(database, "welcome_flow", clock.now())
    window = MainWindow(database, clock=clock)
    qtbot.addWidget(window)
    try:
        assert theme.is_dark()  # the window opens in the scheme it was left in
        menus = {a.text(): a.menu() for a in window.menuBar().actions()}
        view = {a.text(): a.menu() for a in menus["&View"].actions() if a.menu()}
        choices = {a.text(): a for a in view["Appearance"].actions()}
        assert list(choices) == ["&System", "&Light", "&Dark"]
        assert choices["&Dark"].isChecked()

        choices["&Light"].trigger()
        assert not theme.is_dark()
        assert QSettings(theme.ORGANIZATION, theme.APPLICATION).value(theme.SETTINGS_KEY) == (
            theme.LIGHT
        )
        assert choices["&Light"].isChecked() and not choices["&Dark"].isChecked()

        choices["&System"].trigger()
        assert not QSettings(theme.ORGANIZATION, theme.APPLICATION).contains(theme.SETTINGS_KEY)
        assert theme.appearance().preference() == theme.SYSTEM
    finally:
        window.shutdown()


def test_an_unknown_choice_is_refused_and_a_bad_stored_one_ignored() -> None:
    with pytest.raises(ValueError):
        theme.appearance().set_preference("sepia")
    QSettings(theme.ORGANIZATION, theme.APPLICATION).setValue(theme.SETTINGS_KEY, "sepia")
    assert theme.appearance().preference() == theme.SYSTEM


def test_sprites_are_kept_per_scheme() -> None:
    sprites.clear()
    calls: list[str] = []

    def draw(p: QPainter) -> None:
        calls.append(style.SCHEME)
        p.fillRect(QRectF(0, 0, 10, 10), style.CARD)

    def paint() -> QColor:
        image = QImage(20, 20, QImage.Format.Format_ARGB32_Premultiplied)
        image.fill(Qt.GlobalColor.transparent)
        painter = QPainter(image)
        sprites.draw_cached(painter, QRectF(5, 5, 10, 10), ("test-square",), draw)
        painter.end()
        return image.pixelColor(10, 10)

    with style.using(style.LIGHT):
        assert paint() == style.LIGHT.card
    with style.using(style.DARK):
        assert paint() == style.DARK.card  # not the light sprite of the same key
    with style.using(style.LIGHT):
        assert paint() == style.LIGHT.card
    assert calls == ["light", "dark"]  # the third paint came from the cache
    assert {k[-1] for k in sprites._CACHE} == {"light", "dark"}


def test_highlighter_colours_follow_the_scheme(qtbot: QtBot) -> None:
    from designer.inspector.widgets import PythonHighlighter

    edit = QPlainTextEdit()
    qtbot.addWidget(edit)
    highlighter = PythonHighlighter(edit.document())
    edit.setPlainText('if ok:\n    log("done")')

    def keyword_colour() -> QColor:
        formats = edit.document().firstBlock().layout().formats()
        return formats[0].format.foreground().color()

    def base() -> QColor:
        qtbot.wait(20)  # the editor takes the new palette from the event loop
        return edit.palette().color(QPalette.ColorRole.Base)

    on_light, light_base = keyword_colour(), base()
    edits: list[None] = []
    edit.textChanged.connect(lambda: edits.append(None))
    theme.appearance().set_preference(theme.DARK)
    assert edits == []  # new colours are not an edit (the inspector would commit one)
    on_dark, dark_base = keyword_colour(), base()
    assert highlighter.dark and dark_base.lightnessF() < 0.3
    assert on_dark != on_light
    assert contrast(on_light, light_base) >= 4.5
    assert contrast(on_dark, dark_base) >= 4.5
    assert contrast(on_light, dark_base) < 3  # the light colours would not have done


def test_the_update_banner_stays_readable(qtbot: QtBot) -> None:
    from designer.banner import UpdateBanner

    banner = UpdateBanner()
    qtbot.addWidget(banner)
    banner.resize(700, 40)
    banner.show()
    qtbot.waitExposed(banner)

    def colours() -> tuple[float, float]:
        qtbot.wait(20)
        image = banner.grab().toImage()
        label = banner.label.geometry()
        back = lightness(image, 3, 3)
        text = [
            lightness(image, x, y)
            for y in range(label.top(), label.bottom())
            for x in range(label.left(), label.left() + 200)
        ]
        ink = min(text) if back > 0.5 else max(text)
        return back, ink

    back, ink = colours()
    assert back > 0.85 and ink < 0.35
    theme.appearance().set_preference(theme.DARK)
    back, ink = colours()
    assert back < 0.25 and ink > 0.75


def test_diagrams_stay_light_when_the_window_is_dark(canvas: Any, qtbot: QtBot) -> None:
    """File ▸ Export Diagram from a dark window: a light picture for paper, and the window
    keeps its dark canvas."""
    from designer.render import render_image

    theme.appearance().set_preference(theme.DARK)
    grab(canvas, qtbot)
    light = render_image(canvas.scene, 1.0)
    assert lightness(light, 2, 2) > 0.9
    rect = canvas.scene.item_for_key["welcome"].sceneBoundingRect()
    # An empty spot inside the card, in the picture (which starts 40 units before the
    # content): white on paper — its frame sprite was drawn for the light scheme.
    spot = QPointF(rect.right() - 40, rect.top() + 60) - canvas.scene.content_rect.topLeft()
    assert lightness(light, round(spot.x() + 40), round(spot.y() + 40)) > 0.95
    dark = render_image(canvas.scene, 1.0, dark=True)
    assert lightness(dark, 2, 2) < 0.15
    assert style.SCHEME == "dark"
    assert canvas.scene.backgroundBrush().color() == style.DARK.canvas
    assert background_lightness(grab(canvas, qtbot)) < 0.15


# --- high-DPI --------------------------------------------------------------------------------
def viewport_at(canvas: Any, ratio: float) -> QImage:
    """The canvas's viewport drawn as on a screen of ``ratio`` device pixels per pixel."""
    port = canvas.view.viewport()
    image = QImage(
        round(port.width() * ratio),
        round(port.height() * ratio),
        QImage.Format.Format_ARGB32_Premultiplied,
    )
    image.setDevicePixelRatio(ratio)
    image.fill(Qt.GlobalColor.transparent)
    port.render(image)
    return image


def mean_difference(a: QImage, b: QImage) -> float:
    a = a.convertToFormat(QImage.Format.Format_RGB32)
    b = b.convertToFormat(QImage.Format.Format_RGB32)
    assert a.size() == b.size()
    total = 0
    for y in range(a.height()):
        for x in range(a.width()):
            p, q = a.pixel(x, y), b.pixel(x, y)
            total += sum(abs((p >> s & 255) - (q >> s & 255)) for s in (0, 8, 16))
    return total / (3 * a.width() * a.height())


def test_a_2x_screen_gets_a_real_2x_picture(canvas: Any) -> None:
    """At a device pixel ratio of 2 a card has twice the pixels in each direction, drawn
    at that density — its text and its sprites (frame, type badge) alike — not a 1x
    picture scaled up. The reference is the scene drawn at a scale of 2 on a plain 1x
    image (how a PNG export is drawn: no device pixel ratio involved): the 2x screen
    must match it far better than the 1x picture enlarged does."""
    view, item = canvas.view, canvas.scene.item_for_key["welcome"]
    badge = view.mapFromScene(item.mapToScene(item.rect.topLeft() + QPointF(26, 26)))
    card = view.mapFromScene(item.sceneBoundingRect()).boundingRect()
    one, two = viewport_at(canvas, 1), viewport_at(canvas, 2)
    assert (two.width(), two.height()) == (2 * one.width(), 2 * one.height())

    def errors(r: QRect) -> tuple[float, float]:
        reference = QImage(r.size() * 2, QImage.Format.Format_ARGB32_Premultiplied)
        reference.fill(style.CANVAS)
        painter = QPainter(reference)
        painter.setRenderHints(
            QPainter.RenderHint.Antialiasing | QPainter.RenderHint.TextAntialiasing
        )
        source = view.mapToScene(r).boundingRect()
        view.canvas.render(painter, QRectF(reference.rect()), source)
        painter.end()
        real = two.copy(r.x() * 2, r.y() * 2, r.width() * 2, r.height() * 2)
        enlarged = one.copy(r).scaled(real.size(), mode=Qt.TransformationMode.SmoothTransformation)
        return mean_difference(real, reference), mean_difference(enlarged, reference)

    real, enlarged = errors(card.adjusted(10, 10, -10, -10))
    assert real < 0.3 * enlarged, (real, enlarged)
    real, enlarged = errors(QRect(badge.x() - 16, badge.y() - 16, 32, 32))  # a sprite
    assert real < 0.3 * enlarged, (real, enlarged)


def test_grid_dots_keep_their_size_on_a_2x_screen(canvas: Any) -> None:
    """A 1x dot is one pixel; on a 2x screen it is 2x2 device pixels, not one."""

    def dot_pixels(image: QImage, ratio: int) -> int:
        top = [
            (x, y)
            for y in range(0, 60 * ratio)
            for x in range(0, 200 * ratio)
            if image.pixel(x, y) == style.GRID_DOT.rgb()
        ]
        return len(top)

    one = dot_pixels(viewport_at(canvas, 1), 1)
    two = dot_pixels(viewport_at(canvas, 2), 2)
    assert one > 0
    assert two == 4 * one


def test_the_window_palette_is_not_left_dark_after_the_system_goes_light(
    qapp: QApplication,
) -> None:
    hints = QGuiApplication.styleHints()
    hints.colorSchemeChanged.emit(Qt.ColorScheme.Dark)
    assert theme.is_dark()
    hints.colorSchemeChanged.emit(Qt.ColorScheme.Unknown)  # nobody says: Qt's own palette
    assert not theme.is_dark()
    assert qapp.palette().resolveMask() == 0


def test_gallery_thumbnails_follow_the_scheme(qtbot: QtBot, database: Database) -> None:
    from designer.dialogs.gallery import TemplateGallery

    gallery = TemplateGallery(database, FixedClock(T0))
    qtbot.addWidget(gallery)
    card = gallery.cards[0]

    def thumb_lightness() -> float:
        image = card.pixmap.toImage()
        return QColor(image.pixel(2, 2)).lightnessF()  # the canvas around the journey

    assert thumb_lightness() > 0.8
    theme.appearance().set_preference(theme.DARK)
    assert thumb_lightness() < 0.3
    assert style.DARK.canvas.name() in card.thumbnail.styleSheet()
    theme.appearance().set_preference(theme.LIGHT)
    assert thumb_lightness() > 0.8


def test_message_previews_stay_on_light_paper_in_the_dark(qtbot: QtBot) -> None:
    from PySide6.QtWidgets import QTextBrowser

    browser = QTextBrowser()
    qtbot.addWidget(browser)
    theme.paper(browser)
    theme.appearance().set_preference(theme.DARK)
    assert theme.is_dark()
    text = browser.palette().color(QPalette.ColorRole.Text)
    base = browser.palette().color(QPalette.ColorRole.Base)
    assert text.lightnessF() < 0.3 and base.lightnessF() > 0.8
