"""`journeys render`: PNG and SVG without a window, read-only, and a clean exit."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtGui import QImage

from app.cli import main
from engine.clock import FixedClock
from engine.db import Database
from engine.gallery import template_keys

from .conftest import import_template, snapshot


def test_render_writes_png_and_svg(qapp, db: Database, clock: FixedClock, tmp_path: Path) -> None:
    url = db.engine.url.render_as_string(hide_password=False)
    cid = import_template(db, "prioritize_hot_leads", clock.now())
    before = snapshot(db, cid)
    png, svg = tmp_path / "journey.png", tmp_path / "journey.svg"
    assert main(["--db", url, "render", str(cid), "-o", str(png)]) == 0
    assert main(["--db", url, "render", "Prioritize Hot leads", "-o", str(svg)]) == 0
    image = QImage(str(png))
    assert not image.isNull()
    assert image.width() > 600 and image.height() > 600
    # not a blank image: the cards' type colours are in it
    colors = {
        image.pixelColor(x, y).name()
        for x in range(0, image.width(), 7)
        for y in range(0, image.height(), 7)
    }
    assert "#2563eb" in colors and "#7c3aed" in colors
    text = svg.read_text(encoding="utf-8")
    assert text.startswith("<?xml") and "<svg" in text
    assert "Prioritize" in text and "not opened" in text
    assert snapshot(db, cid) == before  # rendering never writes


def test_a_rendered_journey_shows_its_notes(
    qapp, db: Database, clock: FixedClock, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    from engine import editing

    url = db.engine.url.render_as_string(hide_password=False)
    cid = import_template(db, "tag_hot_contacts", clock.now())
    note = {"id": "n1", "text": "Why: hot leads get a call", "position": {"x": 500, "y": 0}}
    png, svg = tmp_path / "plain.png", tmp_path / "notes.svg"
    assert main(["--db", url, "render", str(cid), "-o", str(png)]) == 0

    def colours(path: Path) -> set[str]:
        image = QImage(str(path))
        return {
            image.pixelColor(x, y).name()
            for x in range(0, image.width(), 5)
            for y in range(0, image.height(), 5)
        }

    assert "#fff1a8" not in colours(png)  # no note yet: no note paper
    with db.session() as s:
        editing.update_campaign(s, cid, {"notes": [note]}, clock.now())
    assert main(["--db", url, "render", str(cid), "-o", str(png)]) == 0
    assert "#fff1a8" in colours(png)
    assert main(["--db", url, "render", str(cid), "-o", str(svg)]) == 0
    assert "hot leads get a call" in svg.read_text(encoding="utf-8")


def test_render_refuses_bad_input(db: Database, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    url = db.engine.url.render_as_string(hide_password=False)
    assert main(["--db", url, "render", "nope", "-o", str(tmp_path / "x.png")]) == 2
    assert main(["--db", url, "render", "1", "-o", str(tmp_path / "x.pdf")]) == 2
    assert "png or .svg" in capsys.readouterr().err
    assert not (tmp_path / "x.png").exists()


@pytest.mark.parametrize("key", template_keys())
def test_every_template_renders_in_a_fresh_process(key: str, tmp_path: Path) -> None:
    """The real command in its own interpreter: exit 0, no Qt abort at exit."""
    env = {**os.environ, "PYTHONFAULTHANDLER": "1"}
    env.pop("QT_QPA_PLATFORM", None)  # render must pick offscreen by itself
    db = f"sqlite:///{tmp_path / 'j.db'}"
    run = [sys.executable, "-m", "app.cli", "--db", db]
    root = Path(__file__).resolve().parents[2]
    subprocess.run([*run, "new", "--template", key], check=True, cwd=root, env=env)
    out = tmp_path / f"{key}.png"
    done = subprocess.run(
        [*run, "render", "1", "-o", str(out)],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "Fatal" not in done.stderr and "QThread" not in done.stderr
    assert out.stat().st_size > 10_000
