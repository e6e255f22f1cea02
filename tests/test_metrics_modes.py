"""VEEGAN mode metrics (shared/REFERENCES.md): rules and the perfect-sampler check."""

import numpy as np
import pytest

from genlab.data.toy2d import GRID25, RING8
from genlab.metrics.modes import PERFECT_HQ_FRACTION, mode_stats


def test_perfect_hq_constant():
    assert PERFECT_HQ_FRACTION == pytest.approx(0.98889, abs=1e-5)


@pytest.mark.parametrize("data", [RING8, GRID25], ids=lambda d: d.name)
def test_perfect_sampler_covers_all_modes(data):
    k = data.centers.shape[0]
    for seed in (0, 1):
        stats = mode_stats(data.sample_np(seed, 2500), data.centers, data.sigma)
        assert stats.modes_covered == k
        assert stats.covered.all()
        # binomial std of the HQ fraction at n = 2500 is ~0.002; 0.01 is ~5 std
        assert stats.high_quality_fraction == pytest.approx(PERFECT_HQ_FRACTION, abs=0.01)
        assert stats.counts.sum() == round(stats.high_quality_fraction * 2500)


def test_collapsed_sampler_covers_one_mode():
    c = RING8.centers
    samples = c[3] + RING8.sigma * np.random.default_rng(0).normal(size=(2500, 2))
    stats = mode_stats(samples, c, RING8.sigma)
    assert stats.modes_covered == 1
    assert stats.covered[3] and stats.covered.sum() == 1
    assert np.all(stats.nearest == 3)


def test_three_sigma_boundary():
    c = np.array([[0.0, 0.0], [10.0, 0.0]])
    samples = np.array([[2.9, 0.0], [0.0, -3.1], [10.0, 3.05]])
    stats = mode_stats(samples, c, sigma=1.0)
    assert stats.high_quality_fraction == pytest.approx(1 / 3)
    assert stats.counts.tolist() == [1, 0]
    assert stats.modes_covered == 1
    assert stats.nearest.tolist() == [0, 0, 1]


def test_far_samples_are_not_high_quality():
    stats = mode_stats(np.full((100, 2), 0.5), GRID25.centers, GRID25.sigma)
    assert stats.modes_covered == 0
    assert stats.high_quality_fraction == 0.0


def test_bad_inputs_raise():
    with pytest.raises(ValueError, match="same D"):
        mode_stats(np.zeros((5, 3)), RING8.centers, RING8.sigma)
    with pytest.raises(ValueError, match="non-finite"):
        mode_stats(np.full((5, 2), np.nan), RING8.centers, RING8.sigma)
    with pytest.raises(ValueError, match="sigma"):
        mode_stats(np.zeros((5, 2)), RING8.centers, 0.0)
