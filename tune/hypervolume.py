"""Exact hypervolume of a set of minimised points against a reference point, for the 2-3 objectives of a sweep.

    HV(P, r) = volume( union over p in P with p < r of the box [p, r] )

Computed by slicing (HSO, While et al. 2006): sort the points on the last objective; between two
consecutive values z_k <= z_{k+1} of it, the union's cross-section is the (d-1)-dimensional
hypervolume of the points with last objective <= z_k, so

    HV_d(P) = sum_k (z_{k+1} - z_k) HV_{d-1}({p[:-1] : p in P, p[-1] <= z_k}),   z_{n+1} = r[-1],

down to the 1-D case HV_1 = r - min p. Exponential in d but exact and dependency-free; a sweep's front
has tens of points and 2 or 3 objectives. Optuna has a faster WFG implementation, but only under a
private module (`optuna._hypervolume`) that its releases are free to move; the tests check this one
against it on random fronts.
"""

from __future__ import annotations

from collections.abc import Sequence

Point = Sequence[float]


def hypervolume(points: Sequence[Point], reference: Point) -> float:
    """Volume dominated by `points` (minimised) inside the box below `reference`; points not strictly
    better than the reference in every objective add nothing."""
    inside = [tuple(float(v) for v in p) for p in points if all(v < r for v, r in zip(p, reference))]
    if not inside:
        return 0.0
    return _slices(inside, tuple(float(r) for r in reference))


def _slices(points: list[tuple[float, ...]], reference: tuple[float, ...]) -> float:
    if len(reference) == 1:
        return reference[0] - min(p[0] for p in points)
    ordered = sorted(points, key=lambda p: p[-1])
    total = 0.0
    for k, point in enumerate(ordered):
        upper = ordered[k + 1][-1] if k + 1 < len(ordered) else reference[-1]
        if upper > point[-1]:
            total += (upper - point[-1]) * _slices([p[:-1] for p in ordered[: k + 1]], reference[:-1])
    return total
