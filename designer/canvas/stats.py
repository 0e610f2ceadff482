"""Live figures the canvas shows on its nodes: counters, 15-day sparklines, audience size.

Read in one short read-only unit of work from :mod:`engine.api.figures` (the same figures
``journeys report`` prints); plain frozen data goes to the scene, never ORM objects.
The scene keeps these as view state — they are not part of the document and never go
through undo.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime

from engine.api import figures, lookups
from engine.api.figures import ActivityFigures
from engine.db import Database


@dataclass(frozen=True)
class NodeStats:
    processed: int = 0
    rejected: int = 0
    processed_series: tuple[int, ...] = ()  # per day (15) or hour (48), oldest first
    rejected_series: tuple[int, ...] = ()
    figures: ActivityFigures | None = None  # every figure, for rates and tooltips
    days: tuple[datetime, ...] = ()  # the series' buckets


@dataclass(frozen=True)
class CanvasStats:
    nodes: dict[str, NodeStats] = field(default_factory=dict)
    matching: int | None = None  # records the audience filter matches now
    participants: dict[str, int] = field(default_factory=dict)

    def node(self, key: str) -> NodeStats:
        return self.nodes.get(key, EMPTY)


EMPTY = NodeStats()


def load_stats(
    db: Database, campaign_id: int, now: datetime, *, hourly: bool = False
) -> CanvasStats:
    """Counters and the series (15 days, or 48 hours) of every activity, from the
    summary tables."""
    with db.read() as s:
        counted = figures.read_campaign_figures(s, campaign_id)
        daily = figures.read_series(s, campaign_id, now, hourly=hourly)
        matching = lookups.matching_in(s, campaign_id, now)
    nodes = {}
    for a in counted.activities:
        line = daily.of(a.key)
        nodes[a.key] = NodeStats(
            processed=a.processed,
            rejected=a.rejected,
            processed_series=line.processed,
            rejected_series=line.rejected,
            figures=a,
            days=daily.buckets,
        )
    return CanvasStats(nodes, matching, asdict(counted.participants))
