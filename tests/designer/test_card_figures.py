"""Cards show each step's figures with rates, and their sparkline says what it plots."""

from __future__ import annotations

from PySide6.QtCore import QPointF

from designer.canvas.scene import CampaignScene
from designer.canvas.stats import load_stats
from designer.document import CampaignDocument
from engine.api import figures
from engine.clock import FixedClock
from engine.db import Database
from tests.engine.world import World


def run_welcome(db: Database, clock: FixedClock, hot: int) -> World:
    """Four contacts get the welcome email; Ann opens, Bob clicks and replies."""
    w = World(db, clock)
    w.people("Ann", "Bob", "Cid", "Dee")
    w.start(hot)
    w.run(hours=3)
    w.interact(hot, "welcome", "Ann", "open")
    w.interact(hot, "welcome", "Bob", "click")
    w.interact(hot, "welcome", "Bob", "reply")
    return w


def test_an_email_card_shows_sent_and_rates(
    qapp, db: Database, hot: int, clock: FixedClock
) -> None:  # type: ignore[no-untyped-def]
    run_welcome(db, clock, hot)
    scene = CampaignScene(CampaignDocument(db, hot, clock))
    scene.set_stats(load_stats(db, hot, clock.now()))
    card = scene.item_for_key["welcome"]
    report = figures.campaign_figures(db, hot).as_report()["activities"]["welcome"]
    sent = report["sent"]
    assert sent > 0

    def pct(name: str) -> str:
        return f"{round(100 * report[name] / sent)}%"

    assert card.texts()["counters"].splitlines() == [
        f"{sent} sent · {report['rejected']} rejected",
        f"{pct('opened')} opened · {pct('clicked')} clicked",
        f"{pct('replied')} replied · {pct('bounced')} bounced",
    ]
    assert card.rows() == 3 and card.rect.height() > scene.item_for_key["tag_hot"].rect.height()
    counters = card.tooltip_at(QPointF(card.rect.left() + 40, card.rect.bottom() - 20))
    assert f"Sent: {sent}" in counters and f"Replied: {report['replied']} (" in counters


def test_the_sparkline_tooltip_gives_the_day_and_values(
    qapp, db: Database, hot: int, clock: FixedClock
) -> None:  # type: ignore[no-untyped-def]
    run_welcome(db, clock, hot)
    scene = CampaignScene(CampaignDocument(db, hot, clock))
    stats = load_stats(db, hot, clock.now())
    scene.set_stats(stats)
    card = scene.item_for_key["welcome"]
    card.texts()  # lays the sparkline out
    box = card._spark_box
    tip = card.tooltip_at(QPointF(box.right(), box.center().y()))
    today = clock.now().strftime("%a %d %b")
    sent = stats.node("welcome").processed_series[-1]
    assert tip.startswith(f"{today}: {sent} processed, 0 rejected") and "15 days" in tip
    hourly = load_stats(db, hot, clock.now(), hourly=True)
    assert len(hourly.node("welcome").days) == 48
    assert sum(hourly.node("welcome").processed_series) == sum(
        stats.node("welcome").processed_series
    )
    scene.set_stats(hourly)
    card.texts()
    tip = card.tooltip_at(QPointF(card._spark_box.right(), card._spark_box.center().y()))
    assert "48 hours" in tip and clock.now().strftime("%H:00") in tip


def test_a_cut_short_title_is_shown_whole_in_the_tooltip(
    qapp, db: Database, hot: int, clock: FixedClock
) -> None:  # type: ignore[no-untyped-def]
    doc = CampaignDocument(db, hot, clock)
    scene = CampaignScene(doc)
    card = scene.item_for_key["welcome"]
    header = QPointF(card.rect.left() + 60, card.rect.top() + 20)
    assert card.tooltip_at(header) == ""  # "Welcome" fits: nothing to add
    long = "Welcome to the spring collection, with a coupon for our best customers"
    doc.set_field("welcome", "name", long)
    assert card.texts()["name"] != long and card.texts()["name"].endswith("…")
    assert card.tooltip_at(header) == long
    card.set_problems("error", "Missing subject")
    assert card.tooltip_at(header) == f"{long}\nMissing subject"
