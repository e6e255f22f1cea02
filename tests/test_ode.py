"""genlab.samplers.ode / likelihood: orders of accuracy, exact NFE counts, Dopri5, likelihood, guidance."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from jax.experimental import io_callback

from genlab.data.toy2d import RING8
from genlab.metrics.modes import mode_stats
from genlab.models.mlp_field import MLPField, MLPFieldConfig
from genlab.paths import oracle
from genlab.paths.affine import AffinePath, convert
from genlab.samplers.likelihood import exact_divergence, hutchinson_divergence, log_likelihood
from genlab.samplers.ode import STAGES, dopri5, model_field, odeint


def _linear_time_field(x, t):
    """dx/dt = t x: x(t) = x(0) exp(t² / 2)."""
    return t * x


@pytest.mark.parametrize("method, order", [("euler", 1), ("midpoint", 2), ("heun", 2), ("rk4", 4)])
def test_fixed_step_solvers_have_their_order(method, order):
    with jax.enable_x64(True):
        x0 = jnp.ones((1, 1), jnp.float64)
        exact = float(np.exp(0.5))
        errs = [abs(float(odeint(_linear_time_field, x0, method=method, steps=n).x[0, 0]) - exact) for n in (16, 32)]
    observed = np.log2(errs[0] / errs[1])
    assert abs(observed - order) < 0.3, (method, errs, observed)


class _Counter:
    def __init__(self, field):
        self.calls, self.field = 0, field

    def __call__(self, x, t):
        def bump(y):
            self.calls += 1
            return y

        x = io_callback(bump, jax.ShapeDtypeStruct(x.shape, x.dtype), x, ordered=True)
        return self.field(x, t)


@pytest.mark.parametrize("method", list(STAGES))
def test_fixed_step_nfe_is_exact(method):
    f = _Counter(_linear_time_field)
    sol = jax.jit(lambda x: odeint(f, x, method=method, steps=7))(jnp.ones((3, 2)))
    jax.block_until_ready(sol.x)
    assert sol.nfe == f.calls == 7 * STAGES[method]


@pytest.mark.parametrize("tol", [1e-3, 1e-6])
def test_dopri5_counts_its_function_evaluations_and_is_accurate(tol):
    def stiffish(x, t):  # relaxes fast to cos(t): step rejections happen
        return -50.0 * (x - jnp.cos(t))

    f = _Counter(stiffish)
    sol = jax.jit(lambda x: dopri5(f, x, t0=0.0, t1=3.0, rtol=tol, atol=tol))(jnp.ones((2,)))
    jax.block_until_ready(sol.x)
    assert int(sol.nfe) == f.calls > 0
    f2 = _Counter(_linear_time_field)
    sol2 = jax.jit(lambda x: dopri5(f2, x, rtol=tol, atol=tol))(jnp.ones((1, 1)))
    assert abs(float(sol2.x[0, 0]) - np.exp(0.5)) < 20 * tol
    assert int(sol2.nfe) == f2.calls


def test_trajectory_has_the_grid_and_ends_at_the_solution():
    sol = odeint(_linear_time_field, jnp.ones((4, 2)), method="heun", steps=5, trajectory=True)
    assert sol.xs.shape == (6, 4, 2) and sol.ts.shape == (6,)
    np.testing.assert_allclose(sol.xs[-1], sol.x)
    np.testing.assert_allclose(sol.xs[0], 1.0)
    np.testing.assert_allclose(sol.ts, np.linspace(0, 1, 6), atol=1e-7)


def test_likelihood_of_a_gaussian_under_its_exact_linear_flow_is_the_closed_form():
    """Data N(μ, σ² I): the OT-path oracle field is linear in x and transports N(0, I) onto it exactly."""
    mu, sigma = np.array([[0.7, -0.4]]), 0.5
    mix = oracle.GaussianMixture.isotropic(mu, sigma)
    field = oracle.field(mix, AffinePath("ot"))
    x1 = mix.sample(jax.random.key(0), 64)
    closed = -0.5 * jnp.sum((x1 - mu) ** 2, 1) / sigma**2 - np.log(2 * np.pi * sigma**2)
    ll = jax.jit(lambda x: log_likelihood(field, x, method="rk4", steps=20))(x1)
    np.testing.assert_allclose(ll.log_prob, closed, atol=2e-3)
    assert ll.nfe == 80
    ll_d = jax.jit(lambda x: log_likelihood(field, x, method="dopri5"))(x1)
    np.testing.assert_allclose(ll_d.log_prob, closed, atol=2e-3)
    hutch = jax.jit(jax.vmap(lambda k: log_likelihood(field, x1, method="rk4", steps=20, divergence="hutchinson",
                                                      key=k).log_prob))(jax.random.split(jax.random.key(1), 64))
    np.testing.assert_allclose(jnp.mean(hutch, 0), closed, atol=0.15)  # unbiased, noisy


def test_exact_and_hutchinson_divergence_of_a_linear_field():
    A = jnp.array([[1.0, 2.0], [-0.5, 3.0]])
    field = lambda x, t: x @ A.T  # noqa: E731
    x = jnp.ones((5, 2))
    _, div = exact_divergence(field, x, 0.0)
    np.testing.assert_allclose(div, 4.0, rtol=1e-6)
    eps = jax.random.rademacher(jax.random.key(1), (20_000, 2), jnp.float32)
    _, est = hutchinson_divergence(field, jnp.ones((20_000, 2)), 0.0, eps)
    assert abs(float(est.mean()) - 4.0) < 0.1


def test_a_diffusion_eps_model_sampled_as_an_ode_finds_the_ring():
    """An ε-predictor (here the cosine-path oracle's exact ε) converted to a velocity and integrated. The
    ε-parameterisation says nothing about the data at pure noise (a = 0), so the solve starts at t = 1e-3."""
    mix, path = oracle.GaussianMixture.isotropic(RING8.centers, RING8.sigma), AffinePath("cosine")

    def eps_model(x, t):
        b = path.coeffs(t)[1]
        return -b * oracle.score(mix, path, x, t)

    field = lambda x, t: convert(path, eps_model(x, t), x, t, "eps", "velocity")  # noqa: E731
    x = jax.jit(lambda z: odeint(field, z, method="midpoint", steps=50, t0=1e-3).x)(jax.random.normal(jax.random.key(2),
                                                                                          (1000, 2)))
    stats = mode_stats(np.asarray(x), RING8.centers, RING8.sigma)
    assert stats.modes_covered == 8 and stats.high_quality_fraction > 0.9


def test_guidance_weight_one_is_the_conditional_field_and_zero_the_null_one():
    model = MLPField(MLPFieldConfig(width=16, depth=2, time_dim=8, num_classes=3), rngs=nnx.Rngs(0))
    x, label = jnp.ones((4, 2)), jnp.array([0, 1, 2, 0])
    cond = model_field(model, label)(x, 0.3)
    np.testing.assert_allclose(model_field(model, label, guidance=1.0)(x, 0.3), cond)
    np.testing.assert_allclose(model_field(model, label, guidance=0.0)(x, 0.3), model_field(model)(x, 0.3),
                               rtol=1e-5, atol=1e-6)
    w3 = model_field(model, label, guidance=3.0)(x, 0.3)
    null = model_field(model)(x, 0.3)
    np.testing.assert_allclose(w3, null + 3.0 * (cond - null), rtol=1e-4, atol=1e-5)
