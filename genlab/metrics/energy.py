"""Energy distance between two samples (Székely & Rizzo 2013): a two-sample distance for low-dimensional data.

    D²(P, Q) = 2 E‖X − Y‖ − E‖X − X'‖ − E‖Y − Y'‖ ≥ 0,   = 0 iff P = Q,

with X, X' ~ P and Y, Y' ~ Q independent. The within-sample terms are U-statistics (the diagonal left out),
so D² of two samples from one distribution is ≈ 0 on average (it can come out slightly negative).
Report a real-versus-real floor at the same sample sizes beside it (shared/REFERENCES.md).
"""

from __future__ import annotations

import numpy as np


def _mean_dist(x: np.ndarray, y: np.ndarray, same: bool, chunk: int) -> float:
    """Mean ‖x_i − y_j‖ over all pairs (over i ≠ j when ``same``), in float64 chunks."""
    total = 0.0
    for s in range(0, len(x), chunk):
        d = np.sqrt(np.maximum(np.sum((x[s:s + chunk, None, :] - y[None, :, :]) ** 2, axis=-1), 0.0))
        total += float(d.sum())  # the diagonal of a same-sample block is 0 and adds nothing
    pairs = len(x) * (len(y) - 1) if same else len(x) * len(y)
    return total / pairs


def energy_distance(x, y, *, chunk: int = 256) -> float:
    """D² between samples ``x: [N, d]`` and ``y: [M, d]`` (N, M ≥ 2)."""
    x = np.asarray(x, np.float64).reshape(len(x), -1)
    y = np.asarray(y, np.float64).reshape(len(y), -1)
    if x.shape[1] != y.shape[1] or len(x) < 2 or len(y) < 2:
        raise ValueError(f"energy_distance needs [N, d] and [M, d] with N, M >= 2; got {x.shape}, {y.shape}")
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise ValueError("energy_distance got non-finite samples (NaN/inf)")
    return 2.0 * _mean_dist(x, y, False, chunk) - _mean_dist(x, x, True, chunk) - _mean_dist(y, y, True, chunk)
