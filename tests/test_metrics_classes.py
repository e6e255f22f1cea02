"""Class-histogram statistics: classes covered, entropy, KL to uniform."""

import numpy as np
import pytest

from genlab.metrics.classes import class_histogram, class_stats, kl_floor


def test_uniform_histogram():
    s = class_stats(np.repeat(np.arange(10), 7))
    assert s.classes_covered == 10
    assert s.entropy == pytest.approx(np.log(10))
    assert s.kl_to_uniform == pytest.approx(0.0, abs=1e-12)
    np.testing.assert_allclose(s.histogram, 0.1)


def test_single_class():
    s = class_stats(np.full(50, 4))
    assert s.classes_covered == 1
    assert s.entropy == pytest.approx(0.0)
    assert s.kl_to_uniform == pytest.approx(np.log(10))
    assert s.histogram[4] == 1.0


def test_min_fraction_ignores_stray_samples():
    labels = np.concatenate([np.zeros(98, int), [1, 2]])
    assert class_stats(labels).classes_covered == 3
    assert class_stats(labels, min_fraction=0.05).classes_covered == 1


def test_entropy_plus_kl_is_log_k():
    labels = np.random.default_rng(0).integers(0, 5, size=300)
    s = class_stats(labels, num_classes=5)
    assert s.entropy + s.kl_to_uniform == pytest.approx(np.log(5))


def test_finite_sample_floor_matches_uniform_sampler():
    rng = np.random.default_rng(1)
    n = 1000
    kls = [class_stats(rng.integers(0, 10, size=n)).kl_to_uniform for _ in range(200)]
    assert np.mean(kls) == pytest.approx(kl_floor(10, n), rel=0.2)


def test_alias_and_errors():
    assert class_histogram is class_stats
    with pytest.raises(ValueError, match="range"):
        class_stats(np.array([0, 10]))
    with pytest.raises(ValueError, match="integer"):
        class_stats(np.array([0.5, 1.0]))
