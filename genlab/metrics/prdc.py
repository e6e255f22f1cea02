"""Precision/recall and density/coverage in a feature space: quality loss versus collapse.

- Precision, recall: Kynkäänniemi et al. 2019, "Improved precision and recall metric for assessing
  generative models", k = 3. Each set's support is estimated as the union of balls around its points
  with radius the distance to the point's k-th nearest neighbour in the same set. Precision is the
  fraction of fake samples inside the real support (quality); recall the fraction of real samples
  inside the fake support (diversity).
- Density, coverage: Naeem et al. 2020, "Reliable fidelity and diversity metrics for generative
  models", k = 5. Density counts how many real balls contain each fake sample (/k, averaged; ≈ 1 for
  identical distributions); coverage is the fraction of real balls that contain at least one fake
  sample (≈ 1 − 2^(−k) for identical distributions of equal size; shared/REFERENCES.md).

Comparisons are strict (``<``), as in the authors' reference code (clovaai/generative-evaluation-prdc).
Pairwise distances are computed in row chunks in NumPy, fine for a few thousand points.
"""

from __future__ import annotations

import dataclasses

import numpy as np

CHUNK = 1024  # rows of the pairwise-distance matrix computed at once


@dataclasses.dataclass(frozen=True)
class PRDC:
    precision: float  # fraction of fake samples inside the real k_pr-NN support
    recall: float  # fraction of real samples inside the fake k_pr-NN support
    density: float  # mean number of real k_dc-NN balls holding a fake sample, / k_dc
    coverage: float  # fraction of real k_dc-NN balls holding at least one fake sample

    def as_dict(self) -> dict[str, float]:
        return dataclasses.asdict(self)


def _as_features(x, name: str) -> np.ndarray:
    f = np.asarray(x, np.float64)
    if f.ndim != 2:
        raise ValueError(f"{name} must be [N, F], got shape {f.shape}")
    if not np.all(np.isfinite(f)):
        raise ValueError(f"{name} contain NaN/inf: check the samples before computing precision/recall")
    return f


def _pairwise(a: np.ndarray, b: np.ndarray, b_sq: np.ndarray) -> np.ndarray:
    """Euclidean distances ``[len(a), len(b)]`` (b_sq: [len(b)] squared norms of b)."""
    d2 = np.sum(a * a, axis=1)[:, None] + b_sq[None, :] - 2.0 * (a @ b.T)
    return np.sqrt(np.maximum(d2, 0.0))


def knn_radii(feats, k: int, chunk: int = CHUNK) -> np.ndarray:
    """Distance from each point of ``feats: [N, F]`` to its k-th nearest other point: [N]."""
    f = _as_features(feats, "features")
    if not 1 <= k < f.shape[0]:
        raise ValueError(f"k must be in [1, N) for N = {f.shape[0]} points, got k = {k}")
    sq = np.sum(f * f, axis=1)
    radii = np.empty(f.shape[0])
    for start in range(0, f.shape[0], chunk):
        d = _pairwise(f[start : start + chunk], f, sq)  # [c, N]
        rows = np.arange(d.shape[0])
        d[rows, start + rows] = 0.0  # the point itself: exactly the smallest distance
        radii[start : start + chunk] = np.partition(d, k, axis=1)[:, k]  # index 0 is the point itself
    return radii


def prdc(real_feats, fake_feats, *, k_pr: int = 3, k_dc: int = 5, chunk: int = CHUNK) -> PRDC:
    """Precision/recall (k_pr) and density/coverage (k_dc) of ``fake_feats: [M, F]`` against ``real_feats: [N, F]``."""
    real = _as_features(real_feats, "real features")
    fake = _as_features(fake_feats, "fake features")
    if real.shape[1] != fake.shape[1]:
        raise ValueError(f"real and fake features differ in width: {real.shape[1]} versus {fake.shape[1]}")
    r_real_pr = knn_radii(real, k_pr, chunk)  # [N]
    r_real_dc = r_real_pr if k_dc == k_pr else knn_radii(real, k_dc, chunk)  # [N]
    r_fake_pr = knn_radii(fake, k_pr, chunk)  # [M]

    real_sq = np.sum(real * real, axis=1)
    in_real = np.zeros(fake.shape[0], bool)  # [M] fake inside the real support (precision)
    n_balls = np.zeros(fake.shape[0])  # [M] real k_dc-balls holding each fake (density)
    real_in_fake = np.zeros(real.shape[0], bool)  # [N] real inside the fake support (recall)
    nearest_fake = np.full(real.shape[0], np.inf)  # [N] distance to the nearest fake (coverage)
    for start in range(0, fake.shape[0], chunk):
        d = _pairwise(fake[start : start + chunk], real, real_sq)  # [c, N]
        sl = slice(start, start + d.shape[0])
        in_real[sl] = np.any(d < r_real_pr[None, :], axis=1)
        n_balls[sl] = np.sum(d < r_real_dc[None, :], axis=1)
        real_in_fake |= np.any(d < r_fake_pr[sl, None], axis=0)
        nearest_fake = np.minimum(nearest_fake, d.min(axis=0))
    return PRDC(
        precision=float(in_real.mean()),
        recall=float(real_in_fake.mean()),
        density=float(n_balls.mean() / k_dc),
        coverage=float(np.mean(nearest_fake < r_real_dc)),
    )
