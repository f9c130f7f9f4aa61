"""Pareto dominance between minimised objective vectors (pure Python: the rung board's process loads no torch)."""

from __future__ import annotations


def dominates(a, b) -> bool:
    """a dominates b when it is no worse in every (minimised) objective and better in one."""
    return all(x <= y for x, y in zip(a, b)) and any(x < y for x, y in zip(a, b))


def front_ranks(points: list[tuple[float, ...]]) -> list[int]:
    """Non-dominated sorting: 0 for the front, 1 for the front of the rest, ..."""
    ranks = [-1] * len(points)
    remaining = set(range(len(points)))
    level = 0
    while remaining:
        front = {i for i in remaining if not any(dominates(points[j], points[i]) for j in remaining if j != i)}
        for i in front:
            ranks[i] = level
        remaining -= front
        level += 1
    return ranks
