"""Live figures the canvas shows on its nodes: counters, 15-day sparklines, audience size.

Read in one short read-only unit of work from :mod:`engine.reporting`; plain frozen data
goes to the scene, never ORM objects. The scene keeps these as view state — they are not
part of the document and never go through undo.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from engine import campaigns, reporting
from engine.db import Database
from engine.errors import JourneysError
from engine.models import Campaign


@dataclass(frozen=True)
class NodeStats:
    processed: int = 0
    rejected: int = 0
    processed_series: tuple[int, ...] = ()
    rejected_series: tuple[int, ...] = ()


@dataclass(frozen=True)
class CanvasStats:
    nodes: dict[str, NodeStats] = field(default_factory=dict)
    matching: int | None = None  # records the audience filter matches now
    participants: dict[str, int] = field(default_factory=dict)

    def node(self, key: str) -> NodeStats:
        return self.nodes.get(key, EMPTY)


EMPTY = NodeStats()


def load_stats(db: Database, campaign_id: int, now: datetime) -> CanvasStats:
    """Counters and the daily series of every activity, in three grouped queries."""
    with db.read() as s:
        counters = reporting.activity_counters(s, campaign_id)
        series = reporting.series(s, campaign_id, now)
        participants = reporting.participant_counts(s, campaign_id)
        campaign = s.get(Campaign, campaign_id)
        try:
            matching: int | None = (
                campaigns.count_matching(s, campaign, now) if campaign is not None else None
            )
        except JourneysError:
            matching = None  # an invalid filter: the problems panel says why
    nodes = {
        key: NodeStats(
            processed=c["processed"],
            rejected=c["rejected"],
            processed_series=tuple(n for _b, n in series.get(key, {}).get("processed", [])),
            rejected_series=tuple(n for _b, n in series.get(key, {}).get("rejected", [])),
        )
        for key, c in counters.items()
    }
    return CanvasStats(nodes, matching, participants)
