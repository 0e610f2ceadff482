"""Automatic layered layout of a campaign tree (networkx), for files without positions
and for "Arrange" on demand.

A campaign is a forest (SPEC §3), so a tidy-tree layout is enough and never crosses
edges: depth gives the row, a parent sits centred over its children, and each branch is
packed against its left neighbour as closely as its rows allow (Reingold-Tilford). Rows
and columns use the templates' spacing (320 x 180 between card centres), so arranged and
hand-made journeys look alike. Positions are card centres.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import networkx as nx

from .style import CARD_H, CARD_W, H_PITCH, V_PITCH

Pos = tuple[float, float]
_ROOT = "\0start"  # a virtual root above the begin activities (never a valid key)


def tree_layout(
    parents: Mapping[str, str | None],
    *,
    origin: Pos = (0.0, 0.0),
    h_pitch: float = H_PITCH,
    v_pitch: float = V_PITCH,
) -> dict[str, Pos]:
    """Centres for every key of ``parents`` (key -> parent key; None or unknown: a root).

    Children keep the mapping's order; the result is centred horizontally on ``origin``
    with the roots on ``origin``'s row.
    """
    graph: nx.DiGraph[str] = nx.DiGraph()
    graph.add_node(_ROOT)
    for key, parent in parents.items():
        source = parent if parent is not None and parent in parents else _ROOT
        graph.add_edge(source, key)
    depth = nx.single_source_shortest_path_length(graph, _ROOT)
    # Each subtree, bottom-up: its nodes' columns relative to its root, and its contour
    # (leftmost, rightmost column on each row below). A subtree is slid left until it
    # would touch its left sibling on some row — a packed, crossing-free tidy tree.
    offsets: dict[str, dict[str, float]] = {}
    contours: dict[str, list[tuple[float, float]]] = {}
    for key in nx.dfs_postorder_nodes(graph, _ROOT):
        kids = list(graph.successors(key))
        placed: dict[str, float] = {}
        contour: list[tuple[float, float]] = []
        starts: list[float] = []
        for kid in kids:
            shift = 0.0
            if contour:
                shift = max(
                    right + 1 - left
                    for (_l, right), (left, _r) in zip(contour, contours[kid], strict=False)
                )
            starts.append(shift)
            for node, x in offsets.pop(kid).items():
                placed[node] = x + shift
            for row, (left, right) in enumerate(contours.pop(kid)):
                if row < len(contour):
                    contour[row] = (
                        min(contour[row][0], left + shift),
                        max(contour[row][1], right + shift),
                    )
                else:
                    contour.append((left + shift, right + shift))
        center = (starts[0] + starts[-1]) / 2 if starts else 0.0
        offsets[key] = {node: x - center for node, x in placed.items()} | {key: 0.0}
        contours[key] = [(0.0, 0.0)] + [(lo - center, hi - center) for lo, hi in contour]
    columns = offsets[_ROOT]
    columns.pop(_ROOT)
    if not columns:
        return {}
    middle = (min(columns.values()) + max(columns.values())) / 2
    ox, oy = origin
    return {
        key: (ox + (columns[key] - middle) * h_pitch, oy + (depth[key] - 1) * v_pitch)
        for key in parents
    }


def overlaps(a: Pos, b: Pos, margin: float = 24.0) -> bool:
    """Would cards centred on ``a`` and ``b`` touch (with ``margin`` around each)?"""
    return abs(a[0] - b[0]) < CARD_W + margin and abs(a[1] - b[1]) < CARD_H + margin


def place_unpositioned(
    parents: Mapping[str, str | None], positions: Mapping[str, Pos | None]
) -> dict[str, Pos]:
    """Centres for the nodes without a position, around those that have one.

    Everything is laid out from scratch when nothing is placed. Otherwise each unplaced
    branch goes below its placed parent (or right of everything, for a root), slid
    sideways column by column until it covers no card.
    """
    placed = {k: p for k, p in positions.items() if p is not None and k in parents}
    if not placed:
        return tree_layout(parents)
    missing = [k for k in parents if k not in placed]
    tops = [k for k in missing if parents[k] not in parents or parents[k] in placed]
    kids: dict[str, list[str]] = {}
    for k in missing:
        parent = parents[k]
        if parent is not None:
            kids.setdefault(parent, []).append(k)
    out: dict[str, Pos] = {}
    occupied = list(placed.values())
    for top in tops:
        branch = _branch(top, kids)
        sub = {k: (parents[k] if k != top else None) for k in branch}
        parent = parents[top]
        if parent in placed:
            px, py = placed[parent]
            origin = (px, py + V_PITCH)
        else:
            right = max(x for x, _y in occupied) + H_PITCH
            origin = (right, min(y for _x, y in occupied))
        layout = tree_layout(sub, origin=origin)
        shifted = free_spot(layout, occupied)
        out.update(shifted)
        occupied.extend(shifted.values())
    return out


def _branch(top: str, kids: Mapping[str, list[str]]) -> list[str]:
    out, todo = [], [top]
    while todo:
        key = todo.pop(0)
        out.append(key)
        todo.extend(kids.get(key, []))
    return out


def free_spot(layout: Mapping[str, Pos], occupied: Iterable[Pos]) -> dict[str, Pos]:
    """``layout`` slid by whole columns (0, +1, -1, +2, -2...) until nothing overlaps."""
    taken = list(occupied)
    for step in range(0, 400):
        dx = ((step + 1) // 2) * H_PITCH * (1 if step % 2 else -1)
        moved = {k: (x + dx, y) for k, (x, y) in layout.items()}
        if not any(overlaps(p, q) for p in moved.values() for q in taken):
            return moved
    return dict(layout)  # pragma: no cover - 400 columns of cards on every side
