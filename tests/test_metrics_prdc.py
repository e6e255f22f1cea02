"""Precision/recall (k=3) and density/coverage (k=5)."""

import numpy as np
import pytest

from genlab.metrics.prdc import knn_radii, prdc


def test_knn_radii_on_a_line():
    x = np.arange(6, dtype=float)[:, None]
    np.testing.assert_allclose(knn_radii(x, 1), 1.0)
    np.testing.assert_allclose(knn_radii(x, 2), [2, 1, 1, 1, 1, 2])
    np.testing.assert_allclose(knn_radii(x, 2, chunk=4), [2, 1, 1, 1, 1, 2])


def test_identical_distributions():
    rng = np.random.default_rng(0)
    real, fake = rng.normal(size=(2000, 8)), rng.normal(size=(2000, 8))
    m = prdc(real, fake, chunk=700)
    assert m.coverage == pytest.approx(1 - 2.0**-5, abs=0.02)  # Naeem 2020: 1 − 2^(−k)
    assert m.density == pytest.approx(1.0, abs=0.1)
    # the k=3 balls miss part of the tails: ~0.9 in 8 dimensions, and precision ≈ recall by symmetry
    assert m.precision > 0.85
    assert m.recall > 0.85
    assert abs(m.precision - m.recall) < 0.05


def test_collapsed_fake_set_has_low_recall_and_coverage():
    rng = np.random.default_rng(1)
    real = rng.normal(size=(1000, 8))
    fake = real[0] + 0.01 * rng.normal(size=(1000, 8))
    m = prdc(real, fake)
    assert m.precision > 0.9  # every fake is a good-looking copy of one real point
    assert m.recall < 0.05
    assert m.coverage < 0.05


def test_far_away_fake_set_has_zero_precision():
    rng = np.random.default_rng(2)
    real = rng.normal(size=(500, 8))
    m = prdc(real, rng.normal(size=(500, 8)) + 20.0)
    assert m.precision == 0.0
    assert m.recall == 0.0
    assert m.density == 0.0
    assert m.coverage == 0.0


def test_chunking_does_not_change_results():
    rng = np.random.default_rng(3)
    real, fake = rng.normal(size=(300, 4)), rng.normal(size=(250, 4)) + 0.3
    assert prdc(real, fake, chunk=64) == prdc(real, fake, chunk=1024)


def test_width_mismatch_raises():
    with pytest.raises(ValueError, match="width"):
        prdc(np.zeros((10, 3)), np.zeros((10, 4)))
