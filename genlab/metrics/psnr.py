"""Peak signal-to-noise ratio: ``PSNR = 10 log10(range^2 / MSE)`` in dB, per image.

genlab images live in [-1, 1], so the default range is 2: Gaussian noise of standard deviation sigma
gives ``20 log10(2 / sigma)`` dB (sigma 0.1 -> 26.0 dB, 0.8 -> 8.0 dB).
"""

from __future__ import annotations

import numpy as np


def psnr(x, y, data_range: float = 2.0) -> np.ndarray:
    """``x, y: [B, ...]`` -> ``[B]`` PSNR in dB of each pair (identical pairs give +inf)."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    if x.shape != y.shape:
        raise ValueError(f"psnr needs two arrays of the same shape, got {x.shape} and {y.shape}")
    mse = np.mean((x - y) ** 2, axis=tuple(range(1, x.ndim)))  # [B]
    with np.errstate(divide="ignore"):
        return 10.0 * np.log10(data_range**2 / mse)
