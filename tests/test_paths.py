"""genlab.paths: affine paths, parameterisation conversions, couplings and the Gaussian-mixture oracles."""

from __future__ import annotations

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from genlab.data.toy2d import RING8
from genlab.paths import oracle
from genlab.paths.affine import PARAMETERISATIONS, PATHS, AffinePath, convert
from genlab.paths.couplings import independent_coupling, ot_coupling, ot_permutation, pairwise_sq_dists

ALL_PATHS = [AffinePath(kind) for kind in PATHS]
MIX2D = oracle.GaussianMixture(np.array([[1.0, 0.5], [-1.0, -0.5], [0.0, 1.5]]), np.array([0.3, 0.1, 0.5]),
                               np.log(np.array([0.5, 0.3, 0.2])))


def test_ot_path_target_is_x1_minus_x0():
    k0, k1, kt = jax.random.split(jax.random.key(0), 3)
    x0, x1 = jax.random.normal(k0, (16, 2)), jax.random.normal(k1, (16, 2))
    t = jax.random.uniform(kt, (16,))
    x_t, dx = AffinePath("ot").sample(x0, x1, t)
    np.testing.assert_allclose(x_t, t[:, None] * x1 + (1 - t[:, None]) * x0, atol=1e-6)
    np.testing.assert_allclose(dx, x1 - x0, atol=1e-6)


@pytest.mark.parametrize("path", ALL_PATHS, ids=PATHS)
def test_path_target_is_the_time_derivative_and_ends_are_noise_and_data(path):
    x0, x1 = jnp.array([[0.3, -1.2, 0.7]]), jnp.array([[1.0, 2.0, -0.5]])
    with jax.enable_x64(True):
        x0, x1 = x0.astype(jnp.float64), x1.astype(jnp.float64)
        for t in (0.1, 0.5, 0.9):
            h = 1e-6
            fd = (path.sample(x0, x1, jnp.array([t + h]))[0] - path.sample(x0, x1, jnp.array([t - h]))[0]) / (2 * h)
            np.testing.assert_allclose(path.sample(x0, x1, jnp.array([t]))[1], fd, rtol=1e-6, atol=1e-8)
        a1, b1, _, _ = path.coeffs(1.0)
        a0, b0, _, _ = path.coeffs(0.0)
    assert float(a1) == pytest.approx(1.0) and float(b1) == pytest.approx(0.0, abs=1e-6)
    assert float(b0) == pytest.approx(1.0, abs=1e-4) and float(a0) < 0.01  # vp: a(0) = e^-5.025


@pytest.mark.parametrize("path", ALL_PATHS, ids=PATHS)
def test_conversions_invert_each_other(path):
    k_x, k_p = jax.random.split(jax.random.key(1))
    x_t = jax.random.normal(k_x, (8, 2), jnp.float32)
    pred = jax.random.normal(k_p, (8, 2), jnp.float32)
    t = jnp.linspace(0.2, 0.8, 8)
    for src, dst in itertools.permutations(PARAMETERISATIONS, 2):
        back = convert(path, convert(path, pred, x_t, t, src, dst), x_t, t, dst, src)
        np.testing.assert_allclose(back, pred, rtol=1e-4, atol=1e-4, err_msg=f"{src} -> {dst} -> {src}")


@pytest.mark.parametrize("path", ALL_PATHS, ids=PATHS)
def test_oracle_velocity_converts_to_oracle_score_and_posterior_mean(path):
    """The velocity ↔ score identity u = (ȧ/a) x + (b²ȧ/a − bḃ) ∇log p_t, and a flow model as a denoiser."""
    x = jax.random.normal(jax.random.key(2), (32, 2)) * 1.5
    t = jnp.linspace(0.15, 0.9, 32)
    v = oracle.velocity(MIX2D, path, x, t)
    np.testing.assert_allclose(convert(path, v, x, t, "velocity", "score"), oracle.score(MIX2D, path, x, t),
                               rtol=2e-3, atol=2e-3)
    np.testing.assert_allclose(convert(path, v, x, t, "velocity", "data"),
                               oracle.posterior_mean(MIX2D, path, x, t), rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize("path", ALL_PATHS, ids=PATHS)
def test_oracle_score_matches_finite_differences_of_log_p(path):
    with jax.enable_x64(True):
        x = jax.random.normal(jax.random.key(3), (6, 2), jnp.float64)
        for t in (0.3, 0.7, 0.95):
            h = 1e-5
            fd = jnp.stack([(oracle.log_prob_t(MIX2D, path, x + h * e, t) - oracle.log_prob_t(MIX2D, path, x - h * e, t))
                            / (2 * h) for e in jnp.eye(2)], axis=1)
            np.testing.assert_allclose(oracle.score(MIX2D, path, x, t), fd, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("path", ALL_PATHS, ids=PATHS)
def test_oracle_velocity_and_posterior_mean_match_monte_carlo(path):
    """E[dx_t | x_t = x] by self-normalised importance sampling over data draws x1: given x1, x_t = x fixes
    x0 = (x − a x1) / b, with weight N(x; a x1, b² I). Independent of the mixture's component formula."""
    t = 0.6
    a, b, da, db = (float(c) for c in path.coeffs(t))
    x1 = MIX2D.sample(jax.random.key(4), 200_000)  # [N, 2]
    queries = jnp.array([[0.0, 0.0], [0.5, 0.3], [-0.6, -0.2], [0.1, 0.9]])
    for x in queries:
        logw = -jnp.sum((x - a * x1) ** 2, axis=1) / (2 * b**2)
        w = jax.nn.softmax(logw)[:, None]
        x0 = (x - a * x1) / b
        mc_v = jnp.sum(w * (da * x1 + db * x0), axis=0)
        mc_mean = jnp.sum(w * x1, axis=0)
        np.testing.assert_allclose(oracle.velocity(MIX2D, path, x[None], t)[0], mc_v, atol=0.03)
        np.testing.assert_allclose(oracle.posterior_mean(MIX2D, path, x[None], t)[0], mc_mean, atol=0.02)


def test_oracle_velocity_matches_binned_monte_carlo_in_1d():
    """REFERENCES.md check: E[x1 − x0 | x_t] in narrow bins, two components, OT path, t = 0.6."""
    mix = oracle.GaussianMixture(np.array([[-1.0], [1.5]]), np.array([0.2, 0.4]), np.log(np.array([0.4, 0.6])))
    path, t, n = AffinePath("ot"), 0.6, 1_000_000
    k0, k1 = jax.random.split(jax.random.key(5))
    x0, x1 = jax.random.normal(k0, (n, 1)), mix.sample(k1, n)
    x_t, dx = path.sample(x0, x1, jnp.full((n,), t))
    for centre in (-0.6, 0.0, 0.3, 0.9):
        inside = jnp.abs(x_t[:, 0] - centre) < 0.02
        mc = jnp.sum(jnp.where(inside, dx[:, 0], 0.0)) / jnp.sum(inside)
        assert abs(float(oracle.velocity(mix, path, jnp.array([[centre]]), t)[0, 0]) - float(mc)) < 0.04


def test_empirical_oracle_is_the_closed_form_for_point_masses():
    pts = np.array([[1.0, 0.0], [0.0, 2.0], [-1.0, -1.0]])
    mix, path = oracle.GaussianMixture.empirical(pts), AffinePath("ot")
    x, t = jnp.array([[0.2, 0.3], [-0.5, 0.1]]), 0.7
    w = oracle.posterior_weights(mix, path, x, t)
    np.testing.assert_allclose(oracle.velocity(mix, path, x, t), (w @ pts - x) / (1 - t), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(oracle.posterior_mean(mix, path, x, t), w @ pts, rtol=1e-5, atol=1e-5)


def test_mixture_log_prob_at_t1_is_the_data_density():
    mix = oracle.GaussianMixture.isotropic(RING8.centers, RING8.sigma)
    x = jnp.asarray(RING8.centers[:2], jnp.float32)
    expected = np.log(1 / 8) - np.log(2 * np.pi * RING8.sigma**2)  # at a centre, other modes negligible
    np.testing.assert_allclose(oracle.log_prob(mix, x), [expected] * 2, rtol=1e-5)


def test_minibatch_ot_is_the_brute_force_optimum():
    k0, k1 = jax.random.split(jax.random.key(6))
    x0, x1 = jax.random.normal(k0, (6, 2)), jax.random.normal(k1, (6, 2)) + 1.0
    cost = np.asarray(pairwise_sq_dists(x0, x1))
    perm = np.asarray(jax.jit(ot_permutation)(x0, x1))
    assert sorted(perm.tolist()) == list(range(6))
    best = min(sum(cost[p[j], j] for j in range(6)) for p in itertools.permutations(range(6)))
    assert sum(cost[perm[j], j] for j in range(6)) == pytest.approx(best, rel=1e-6)


def test_couplings_pair_noise_with_the_data_unchanged():
    x1 = jax.random.normal(jax.random.key(7), (64, 2)) * 3.0
    key = jax.random.key(8)
    x0_ind, x1_ind = independent_coupling(key, x1)
    x0_ot, x1_ot = jax.jit(ot_coupling)(key, x1)
    np.testing.assert_array_equal(x1_ind, x1)
    np.testing.assert_array_equal(x1_ot, x1)
    np.testing.assert_allclose(np.sort(np.asarray(x0_ot), 0), np.sort(np.asarray(x0_ind), 0))  # same noise, re-ordered
    assert float(jnp.sum((x0_ot - x1) ** 2)) < float(jnp.sum((x0_ind - x1) ** 2))
