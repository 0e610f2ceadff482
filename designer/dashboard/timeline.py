"""A participant's timeline: each step with its times, state and message, and what the
recipient did (opened, clicked…), in order. The dashboard highlights the same path on
the canvas."""

from __future__ import annotations

from PySide6.QtWidgets import QTreeWidget, QTreeWidgetItem

from engine.api.dashboard import Timeline

from .tables import when


class TimelineView(QTreeWidget):
    def __init__(self) -> None:
        super().__init__()
        self.setHeaderLabels(["Step", "State", "When", "Message"])
        self.setRootIsDecorated(True)
        self.setAlternatingRowColors(True)
        self.setUniformRowHeights(True)
        self.timeline: Timeline | None = None

    def show_timeline(self, t: Timeline | None) -> None:
        self.timeline = t
        self.clear()
        if t is None:
            self.setHeaderLabels(["Step", "State", "When", "Message"])
            return
        ended = f", ended {when(t.ended_at)}" if t.ended_at else ""
        self.setHeaderLabels([f"Joined {when(t.joined_at)}{ended}", "State", "When", "Message"])
        for step in t.steps:
            at = step.done_at or step.due_at
            item = QTreeWidgetItem(
                [
                    step.name,
                    "waiting" if step.state == "scheduled" and step.due_at is None else step.state,
                    when(at) if at else "waiting for an event",
                    step.message or (f"to {step.to_address}" if step.to_address else ""),
                ]
            )
            for kind, at_ in step.events:
                item.addChild(QTreeWidgetItem([kind, "", when(at_), ""]))
            self.addTopLevelItem(item)
            item.setExpanded(True)
        for c in range(3):
            self.resizeColumnToContents(c)

    def lines(self) -> list[str]:
        out = []
        for i in range(self.topLevelItemCount()):
            item = self.topLevelItem(i)
            out.append(" | ".join(item.text(c) for c in range(4)))
            out.extend(
                "  " + " | ".join(item.child(j).text(c) for c in range(3))
                for j in range(item.childCount())
            )
        return out
