"""Fréchet distance: the validation cases of shared/REFERENCES.md."""

import numpy as np
import pytest

from genlab.metrics import frechet
from genlab.metrics.frechet import frechet_distance, frechet_from_stats, real_floor


def test_closed_form_case():
    mu1, mu2 = np.zeros(4), np.array([1.0, 2.0, 0.0, 0.0])
    s1, s2 = np.diag([1.0, 2.0, 3.0, 4.0]), np.diag([4.0, 2.0, 1.0, 9.0])
    assert frechet_from_stats(mu1, s1, mu2, s2) == pytest.approx(7.5358983849, abs=1e-8)


def test_closed_form_case_eigen_fallback(monkeypatch):
    monkeypatch.setattr(frechet, "_sqrtm", frechet._sqrtm_eig)
    mu1, mu2 = np.zeros(4), np.array([1.0, 2.0, 0.0, 0.0])
    s1, s2 = np.diag([1.0, 2.0, 3.0, 4.0]), np.diag([4.0, 2.0, 1.0, 9.0])
    assert frechet_from_stats(mu1, s1, mu2, s2) == pytest.approx(7.5358983849, abs=1e-8)


def test_non_diagonal_matches_commuting_closed_form():
    # Σ2 = Σ1²: (Σ1 Σ2)^½ = Σ1^{3/2}, so tr = Σ λ^{3/2}
    rng = np.random.default_rng(0)
    q, _ = np.linalg.qr(rng.normal(size=(6, 6)))
    lam = np.linspace(0.5, 3.0, 6)
    s1 = q @ np.diag(lam) @ q.T
    s2 = q @ np.diag(lam**2) @ q.T
    expected = np.sum(lam) + np.sum(lam**2) - 2 * np.sum(lam**1.5)
    assert frechet_from_stats(np.zeros(6), s1, np.zeros(6), s2) == pytest.approx(expected, abs=1e-8)


def test_identical_inputs_give_zero():
    f = np.random.default_rng(1).normal(size=(500, 16))
    assert abs(frechet_distance(f, f)) < 1e-6


def test_two_gaussian_samples_finite_sample_bias():
    rng = np.random.default_rng(2)
    d, n = 64, 1000
    fd = frechet_distance(rng.normal(size=(n, d)), rng.normal(size=(n, d)))
    # REFERENCES.md: ≈ 2.2; bias d(d+1)/2n = 2.08
    assert 1.8 < fd < 2.7


def test_shift_adds_squared_mean_difference():
    rng = np.random.default_rng(3)
    f = rng.normal(size=(400, 8))
    shift = np.arange(8) / 4
    assert frechet_distance(f, f + shift) == pytest.approx(np.sum(shift**2), abs=1e-6)


def test_real_floor_uses_disjoint_subsets_and_is_deterministic():
    rng = np.random.default_rng(4)
    real = rng.normal(size=(2000, 64))
    floor = real_floor(real, 1000, seed=0)
    assert 1.8 < floor < 2.7
    assert real_floor(real, 1000, seed=0) == floor
    assert real_floor(real, 1000, seed=1) != floor
    with pytest.raises(ValueError, match="2n <= N"):
        real_floor(real, 1001)


def test_shape_errors():
    with pytest.raises(ValueError, match="same F"):
        frechet_distance(np.zeros((10, 3)), np.zeros((10, 4)))
    with pytest.raises(ValueError, match="NaN"):
        frechet_distance(np.full((10, 3), np.nan), np.zeros((10, 3)))


def test_a_dead_feature_gives_a_finite_fd_without_warnings():
    """A constant feature (a dead ReLU) makes Σ1Σ2 singular: FD stays finite, equals the FD without that
    feature, and prints no scipy warning into eval output."""
    import warnings

    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(500, 8)), rng.normal(0.3, 1.0, size=(500, 8))
    a[:, 0] = b[:, 0] = 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fd = frechet_distance(a, b)
    assert np.isfinite(fd)
    assert fd == pytest.approx(frechet_distance(a[:, 1:], b[:, 1:]), rel=1e-4, abs=1e-6)
