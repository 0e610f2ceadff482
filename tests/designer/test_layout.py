"""Automatic layout: every node placed, no two cards overlap, parents above children."""

from __future__ import annotations

import random

import pytest

from designer.canvas.layout import overlaps, place_unpositioned, tree_layout


def random_forest(n: int, seed: int) -> dict[str, str | None]:
    rng = random.Random(seed)
    parents: dict[str, str | None] = {}
    for i in range(n):
        keys = list(parents)
        parents[f"a{i}"] = rng.choice(keys) if keys and rng.random() < 0.85 else None
    return parents


def assert_clear(positions: dict[str, tuple[float, float]]) -> None:
    items = list(positions.items())
    for i, (ka, a) in enumerate(items):
        for kb, b in items[i + 1 :]:
            assert not overlaps(a, b, margin=0), (ka, a, kb, b)


@pytest.mark.parametrize("seed", range(5))
def test_layout_gives_non_overlapping_positions(seed: int) -> None:
    parents = random_forest(60, seed)
    pos = tree_layout(parents)
    assert set(pos) == set(parents)
    assert_clear(pos)
    for key, parent in parents.items():
        if parent is not None:
            assert pos[key][1] > pos[parent][1]


def test_a_template_shape_matches_the_bundled_spacing() -> None:
    pos = tree_layout({"welcome": None, "tag_hot": "welcome", "check_email": "welcome"})
    assert pos == {"welcome": (0, 0), "tag_hot": (-160, 180), "check_email": (160, 180)}


@pytest.mark.parametrize("seed", range(5))
def test_unplaced_nodes_go_around_the_placed_ones(seed: int) -> None:
    parents = random_forest(40, seed)
    full = tree_layout(parents)
    rng = random.Random(seed)
    known = {k: (p if rng.random() < 0.5 else None) for k, p in full.items()}
    placed = place_unpositioned(parents, known)
    assert set(placed) == {k for k, p in known.items() if p is None}
    everything = {**{k: p for k, p in known.items() if p is not None}, **placed}
    assert_clear(everything)
