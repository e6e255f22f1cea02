"""Mode coverage on 2D mixtures: the VEEGAN metrics (Srivastava et al. 2017).

Rules, as in shared/REFERENCES.md (2D mode-collapse benchmarks):
  - a sample is **high quality** if its Euclidean distance to its nearest mode is <= 3σ;
  - a mode is **covered** if at least one high-quality sample has it as nearest mode.
A perfect sampler covers every mode and has about 1 − e^(−4.5) ≈ 98.9 % high-quality samples
(for an isotropic 2D Gaussian, P(‖x − μ‖ <= 3σ) = 1 − exp(−9/2)).
"""

from __future__ import annotations

import dataclasses

import numpy as np

# P(‖x − μ‖ <= 3σ) for an isotropic 2D Gaussian: the high-quality fraction of a perfect sampler.
PERFECT_HQ_FRACTION = 1.0 - float(np.exp(-4.5))


@dataclasses.dataclass(frozen=True)
class ModeStats:
    """VEEGAN mode statistics of N samples against K mixture modes."""

    modes_covered: int  # number of modes with at least one high-quality sample
    high_quality_fraction: float  # fraction of samples within 3σ of their nearest mode
    covered: np.ndarray  # [K] bool
    counts: np.ndarray  # [K] int, high-quality samples per mode
    nearest: np.ndarray  # [N] int, index of each sample's nearest mode

    @property
    def num_modes(self) -> int:
        return int(self.covered.shape[0])

    def as_dict(self) -> dict[str, float | int]:
        """JSON-ready summary (scalars only)."""
        return {
            "modes_covered": self.modes_covered,
            "num_modes": self.num_modes,
            "high_quality_fraction": self.high_quality_fraction,
        }


def mode_stats(samples, centers, sigma: float, *, threshold: float = 3.0) -> ModeStats:
    """VEEGAN modes covered and high-quality fraction.

    samples: [N, 2] generated points; centers: [K, 2] mixture means; sigma: per-axis std of a mode.
    threshold: a sample is high quality if within ``threshold * sigma`` of its nearest mode (3, VEEGAN).
    """
    x = np.asarray(samples, np.float64)
    c = np.asarray(centers, np.float64)
    if x.ndim != 2 or c.ndim != 2 or x.shape[1] != c.shape[1]:
        raise ValueError(
            f"mode_stats expects samples [N, D] and centers [K, D] with the same D; got {x.shape} and {c.shape}"
        )
    if not sigma > 0:
        raise ValueError(f"sigma must be positive, got {sigma}: pass the mixture's per-mode std (e.g. RING8.sigma)")
    k = c.shape[0]
    if x.shape[0] == 0:
        return ModeStats(0, 0.0, np.zeros(k, bool), np.zeros(k, np.int64), np.zeros(0, np.int64))
    if not np.all(np.isfinite(x)):
        raise ValueError("mode_stats got non-finite samples (NaN/inf): the generator has diverged")
    d2 = np.sum((x[:, None, :] - c[None, :, :]) ** 2, axis=-1)  # [N, K]
    nearest = np.argmin(d2, axis=1)  # [N]
    dist = np.sqrt(d2[np.arange(x.shape[0]), nearest])  # [N]
    hq = dist <= threshold * sigma  # [N]
    counts = np.bincount(nearest[hq], minlength=k).astype(np.int64)  # [K]
    covered = counts > 0
    return ModeStats(
        modes_covered=int(covered.sum()),
        high_quality_fraction=float(hq.mean()),
        covered=covered,
        counts=counts,
        nearest=nearest,
    )
