"""The 2D mixtures follow REFERENCES.md: ring8 (8 modes on the unit circle, σ 0.01), grid25 ({-4..4}², σ 0.05)."""

from __future__ import annotations

import jax
import numpy as np
import pytest

from genlab.data.toy2d import GRID25, RING8, TOY2D, Mixture, batch_sampler, toy2d


def test_ring8_centres_at_angles_2pi_k_over_8():
    k = np.arange(8)
    expected = np.stack([np.cos(2 * np.pi * k / 8), np.sin(2 * np.pi * k / 8)], axis=1)
    np.testing.assert_allclose(RING8.centers, expected, atol=1e-12)
    distances = np.linalg.norm(RING8.centers[:, None] - RING8.centers[None], axis=-1)
    assert np.min(distances + np.eye(8) * 10) > 0.7  # 8 distinct modes (neighbours are 2 sin(π/8) ≈ 0.765 apart)
    np.testing.assert_allclose(np.linalg.norm(RING8.centers, axis=1), 1.0)
    assert RING8.sigma == 0.01


def test_grid25_centres_and_sigma():
    axis = np.array([-4.0, -2.0, 0.0, 2.0, 4.0])
    expected = {(x, y) for x in axis for y in axis}
    assert GRID25.centers.shape == (25, 2)
    assert {tuple(c) for c in GRID25.centers.tolist()} == expected
    assert GRID25.sigma == 0.05


@pytest.mark.parametrize("dist", [RING8, GRID25], ids=lambda d: d.name)
def test_samples_spread_sigma_around_their_mode(dist):
    x = np.asarray(dist.sample(jax.random.key(0), 4000))
    assert x.shape == (4000, 2) and x.dtype == np.float32
    nearest = np.argmin(np.linalg.norm(x[:, None] - dist.centers[None], axis=-1), axis=1)
    offsets = x - dist.centers[nearest]
    np.testing.assert_allclose(offsets.std(axis=0), dist.sigma, rtol=0.1)  # 4000 draws: ~1% error expected
    counts = np.bincount(nearest, minlength=len(dist.centers))
    assert counts.min() > 0.5 * len(x) / len(dist.centers)  # every mode used, roughly uniformly


def test_sampling_is_a_pure_function_of_the_key():
    for dist in TOY2D.values():
        a, b = dist.sample(jax.random.key(1), 64), dist.sample(jax.random.key(1), 64)
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
        assert not np.array_equal(np.asarray(a), np.asarray(dist.sample(jax.random.key(2), 64)))
        assert a.shape == (64, 2)


def test_batch_sampler_is_one_object_per_set_and_size():
    sample_real = batch_sampler("grid25", 16)
    assert batch_sampler("grid25", 16) is sample_real and batch_sampler("grid25", 8) is not sample_real
    key = jax.random.key(3)
    np.testing.assert_array_equal(np.asarray(sample_real(key)), np.asarray(GRID25.sample(key, 16)))


def test_unknown_name():
    assert toy2d("ring8") is RING8
    with pytest.raises(ValueError, match="ring8"):
        toy2d("swissroll")


def test_first_import_inside_a_jit_trace_leaks_no_tracer():
    """Labs import lazily; a module-level jnp constant made inside a trace would break every later call."""
    import subprocess
    import sys

    code = ("import jax\n"
            "@jax.jit\n"
            "def f(key):\n"
            "    from genlab.data.toy2d import GRID25, RING8\n"
            "    return RING8.sample(key, 4) + GRID25.sample(key, 4)\n"
            "f(jax.random.key(0))\n"
            "from genlab.data.toy2d import RING8\n"
            "print(RING8.sample(jax.random.key(1), 3).shape)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "(3, 2)"


# --- your own mixture: one documented object for training, coverage, diagnose and figures -----------------------

def test_own_mixture_samples_by_its_weights():
    mix = Mixture([[0.0, 0.0], [3.0, 0.0], [0.0, 3.0]], sigma=0.1, weights=[6, 3, 1], name="three")
    assert mix.weights.tolist() == [0.6, 0.3, 0.1] and mix.centers.shape == (3, 2) and toy2d(mix) is mix
    x = np.asarray(mix.sample(jax.random.key(0), 20_000))
    nearest = np.argmin(np.linalg.norm(x[:, None] - mix.centers[None], axis=-1), axis=1)
    np.testing.assert_allclose(np.bincount(nearest) / len(x), [0.6, 0.3, 0.1], atol=0.015)
    np.testing.assert_allclose((x - mix.centers[nearest]).std(axis=0), 0.1, rtol=0.05)
    assert batch_sampler(mix, 32) is batch_sampler(mix, 32) and batch_sampler(mix, 32)(jax.random.key(1)).shape == (32, 2)
    # uniform weights draw exactly what ring8 always drew
    same = Mixture(RING8.centers, RING8.sigma)
    np.testing.assert_array_equal(np.asarray(same.sample(jax.random.key(4), 9)), np.asarray(RING8.sample(jax.random.key(4), 9)))


@pytest.mark.parametrize("kwargs, needle", [
    (dict(centers=[[0, 0, 0]], sigma=0.1), "centers must be finite points \\[K, 2\\]"),
    (dict(centers=[[0, 0]], sigma=0.0), "sigma must be a positive number"),
    (dict(centers=[[0, 0], [1, 1]], sigma=0.1, weights=[1.0]), "weights must be 2 non-negative numbers"),
    (dict(centers=[[0, 0], [1, 1]], sigma=0.1, weights=[1.0, -1.0]), "non-negative"),
])
def test_own_mixture_refuses_bad_input(kwargs, needle):
    with pytest.raises(ValueError, match=needle):
        Mixture(**kwargs)


def test_own_mixture_in_coverage_and_figures():
    from matplotlib.figure import Figure

    from genlab.figures.gan2d import samples_over_training
    from genlab.metrics.modes import mode_stats

    mix = Mixture([[0.0, 0.0], [2.0, 0.0]], sigma=0.05, weights=[0.9, 0.1])
    x = mix.sample_np(0, 2000)
    s = mode_stats(x, mix.centers, mix.sigma)
    assert s.modes_covered == 2 and s.high_quality_fraction > 0.97
    assert isinstance(samples_over_training({0: x[:200], 10: x[200:400]}, mix), Figure)


def test_own_mixture_trains_and_is_diagnosed():
    """train_gan2d takes the mixture in place of a name; its evaluations (fair share = weight) feed diagnose."""
    import dataclasses

    from genlab.experiments.gan2d import Ring8Config, train_gan2d

    mix = Mixture([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]], sigma=0.02, weights=[0.5, 0.25, 0.25], name="three")
    run = train_gan2d(dataclasses.replace(Ring8Config.tiny(), data=mix), seed=0)
    assert run.final["n_modes"] == 3 and len(run.history.evals) >= 2
    assert {"modes_covered", "high_quality_fraction", "visited"} <= set(run.history.evals[-1])
    assert all(f.kind in ("mode_collapse", "between_modes", "oscillation", "discriminator_overpowering")
               for f in run.findings)
