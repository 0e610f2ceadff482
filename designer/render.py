"""Draw a campaign's journey to PNG or SVG without a window (``journeys render``).

The same scene and items as the canvas draw the file, so an exported diagram, a gallery
thumbnail and the editor always agree. Offscreen rendering needs a QApplication (fonts)
but no display: when none exists the ``offscreen`` platform is used.

Diagrams are light whatever the window shows (documents get printed and pasted into
light pages); ``dark=True`` draws them with the canvas's dark colours instead.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from PySide6.QtCore import QRectF, QSize
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtWidgets import QApplication

from engine import db_files
from engine.clock import Clock, SystemClock
from engine.db import Database
from engine.errors import UserError

from .canvas import style
from .canvas.scene import CampaignScene
from .canvas.stats import load_stats
from .document import CampaignDocument

FORMATS = (".png", ".svg")
MARGIN = 40.0


def ensure_app() -> QApplication:
    """The running QApplication, or a new one on the offscreen platform."""
    app = QApplication.instance()
    if app is None:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        app = QApplication(["journeys"])
    assert isinstance(app, QApplication)
    return app


def diagram_rect(scene: CampaignScene) -> QRectF:
    """The content with a margin: what a diagram shows."""
    return QRectF(scene.content_rect).adjusted(-MARGIN, -MARGIN, MARGIN, MARGIN)


@contextmanager
def colors_for(scene: CampaignScene, dark: bool) -> Iterator[None]:
    """Paint ``scene`` in the light (or dark) colours for a while, whatever the window
    shows; the scene's own background is given back afterwards."""
    background = scene.backgroundBrush()
    with style.using(style.DARK if dark else style.LIGHT):
        scene.setBackgroundBrush(style.CANVAS)
        try:
            yield
        finally:
            scene.setBackgroundBrush(background)


def render_image(scene: CampaignScene, scale: float = 2.0, *, dark: bool = False) -> QImage:
    """The diagram as an image of ``scale`` pixels per scene unit."""
    source = diagram_rect(scene)
    size = QSize(round(source.width() * scale), round(source.height() * scale))
    image = QImage(size, QImage.Format.Format_ARGB32_Premultiplied)
    with colors_for(scene, dark):
        image.fill(style.CANVAS)
        painter = QPainter(image)
        painter.setRenderHints(
            QPainter.RenderHint.Antialiasing
            | QPainter.RenderHint.TextAntialiasing
            | QPainter.RenderHint.SmoothPixmapTransform
        )
        scene.render(painter, QRectF(0, 0, size.width(), size.height()), source)
        painter.end()
    return image


def render_png(
    scene: CampaignScene, path: Path, scale: float = 2.0, *, dark: bool = False
) -> QSize:
    """A PNG at ``scale`` pixels per scene unit (2: crisp on high-DPI screens)."""
    image = render_image(scene, scale, dark=dark)
    if not image.save(str(path)):  # the format follows the .png suffix
        raise UserError(f"cannot write {path}")
    return image.size()


def render_svg(scene: CampaignScene, path: Path, title: str, *, dark: bool = False) -> QSize:
    from PySide6.QtSvg import QSvgGenerator

    source = diagram_rect(scene)
    size = QSize(round(source.width()), round(source.height()))
    generator = QSvgGenerator()
    generator.setFileName(str(path))
    generator.setSize(size)
    generator.setResolution(96)  # CSS pixels: the file's size in mm matches the PNG at 1x
    generator.setViewBox(QRectF(0, 0, size.width(), size.height()))
    generator.setTitle(title)
    generator.setDescription("Journey diagram drawn by Journeys")
    painter = QPainter()
    if not painter.begin(generator):
        raise UserError(f"cannot write {path}")
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    with colors_for(scene, dark):
        painter.fillRect(QRectF(0, 0, size.width(), size.height()), QColor(style.CANVAS))
        scene.render(painter, QRectF(0, 0, size.width(), size.height()), source)
    painter.end()
    return size


def render_campaign(
    db: Database,
    campaign_id: int,
    path: str | Path,
    clock: Clock | None = None,
    *,
    dark: bool = False,
) -> QSize:
    """Write the journey of ``campaign_id`` to ``path`` (.png or .svg); reads only."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise UserError(f"{path}: the diagram must be a .png or .svg file")
    if not path.parent.exists():
        raise UserError(f"{path.parent}: no such folder")
    db_files.refuse_database_file(
        path, db.engine.url, action="overwritten by a diagram", hint="Choose another name."
    )
    ensure_app()
    clock = clock or SystemClock()
    document = CampaignDocument(db, campaign_id, clock)
    scene = CampaignScene(document)
    try:
        scene.set_stats(load_stats(db, campaign_id, clock.now()))
        scene.clearSelection()
        if suffix == ".png":
            return render_png(scene, path, dark=dark)
        return render_svg(scene, path, document.campaign.name, dark=dark)
    finally:
        # Items go before the scene and the scene before the document: no dangling
        # Python wrappers when the interpreter exits.
        scene.clear()
        del scene
