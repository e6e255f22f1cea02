"""Fréchet distance between two feature sets (the formula behind FID).

Same formula as pytorch-fid / clean-fid (shared/REFERENCES.md, "Fréchet distance"): float64 means
and unbiased covariances, then

    FD = ‖μ1 − μ2‖² + tr Σ1 + tr Σ2 − 2 tr (Σ1 Σ2)^½,

and if the matrix square root is not finite, 1e-6·I is added to both covariances.

An FD is meaningless alone: it has a finite-sample bias (≈ d(d+1)/2n for two N(0, I) samples of
size n in d dimensions). Always report :func:`real_floor` (real versus real at the same n) beside it.
"""

from __future__ import annotations

import warnings

import numpy as np

EPS = 1e-6  # pytorch-fid's offset added to both covariances when sqrtm is not finite


def feature_stats(feats) -> tuple[np.ndarray, np.ndarray]:
    """Mean [F] and unbiased covariance [F, F] (float64) of features ``feats: [N, F]``."""
    f = np.asarray(feats, np.float64)
    if f.ndim != 2 or f.shape[0] < 2:
        raise ValueError(f"features must be [N, F] with N >= 2, got shape {f.shape}")
    if not np.all(np.isfinite(f)):
        raise ValueError("features contain NaN/inf: check the generator's samples before computing an FD")
    return f.mean(axis=0), np.cov(f, rowvar=False, ddof=1).reshape(f.shape[1], f.shape[1])


def _sqrtm(m: np.ndarray) -> np.ndarray:
    try:
        from scipy import linalg
    except ImportError:  # scipy is a jax dependency, so this is only a safety net
        return _sqrtm_eig(m)
    with warnings.catch_warnings():  # singular Σ1Σ2 (e.g. a dead feature) is normal; the caller checks the result
        warnings.simplefilter("ignore", linalg.LinAlgWarning)
        return linalg.sqrtm(m)


def _sqrtm_eig(m: np.ndarray) -> np.ndarray:
    """Square root of a product of PSD matrices through its eigendecomposition (eigenvalues are real, >= 0)."""
    w, v = np.linalg.eig(m)
    return (v * np.sqrt(w.astype(np.complex128))) @ np.linalg.inv(v)


def _trace_sqrt_product(s1: np.ndarray, s2: np.ndarray) -> float:
    covmean = _sqrtm(s1 @ s2)
    if not np.all(np.isfinite(covmean)):
        offset = EPS * np.eye(s1.shape[0])
        covmean = _sqrtm((s1 + offset) @ (s2 + offset))
    if np.iscomplexobj(covmean):
        imag = np.max(np.abs(np.diagonal(covmean).imag))
        if imag > 1e-3:
            raise ValueError(
                f"sqrt(Σ1 Σ2) has an imaginary component {imag:.3g}: the covariances are badly "
                "conditioned; use more samples than feature dimensions"
            )
        covmean = covmean.real
    return float(np.trace(covmean))


def frechet_from_stats(mu1, sigma1, mu2, sigma2) -> float:
    """FD between N(mu1, sigma1) and N(mu2, sigma2): mu [F], sigma [F, F]."""
    mu1, mu2 = np.atleast_1d(np.asarray(mu1, np.float64)), np.atleast_1d(np.asarray(mu2, np.float64))
    s1, s2 = np.atleast_2d(np.asarray(sigma1, np.float64)), np.atleast_2d(np.asarray(sigma2, np.float64))
    if mu1.shape != mu2.shape or s1.shape != s2.shape or s1.shape != (mu1.shape[0],) * 2:
        raise ValueError(
            f"shape mismatch: mu1 {mu1.shape}, mu2 {mu2.shape}, sigma1 {s1.shape}, sigma2 {s2.shape}; "
            "expected mu [F] and sigma [F, F] for the same F"
        )
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2.0 * _trace_sqrt_product(s1, s2))


def frechet_distance(feats1, feats2) -> float:
    """FD between two feature sets ``feats1: [N1, F]`` and ``feats2: [N2, F]``."""
    f1, f2 = np.asarray(feats1), np.asarray(feats2)
    if f1.ndim != 2 or f2.ndim != 2 or f1.shape[1] != f2.shape[1]:
        raise ValueError(f"features must be [N, F] with the same F, got {f1.shape} and {f2.shape}")
    return frechet_from_stats(*feature_stats(f1), *feature_stats(f2))


def real_floor(real_feats, n: int, seed: int = 0) -> float:
    """Real-versus-real FD floor: FD between two disjoint random subsets of ``n`` real features each.

    real_feats: [N, F] with N >= 2n. Report this beside any FD computed from ``n`` generated samples:
    an FD near the floor is as good as the sample count can tell.
    """
    f = np.asarray(real_feats)
    if f.ndim != 2:
        raise ValueError(f"real_feats must be [N, F], got shape {f.shape}")
    if n < 2 or 2 * n > f.shape[0]:
        raise ValueError(
            f"real_floor needs 2n <= N disjoint real samples (n={n}, N={f.shape[0]}): "
            f"pass n <= {f.shape[0] // 2} or more real features"
        )
    perm = np.random.default_rng(seed).permutation(f.shape[0])
    return frechet_distance(f[perm[:n]], f[perm[n : 2 * n]])
