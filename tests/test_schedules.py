"""Noise schedules, the forward noising q(x_t | x_0) and the eps / x0 / v conversions, as specifications."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from genlab.schedules.diffusion import (KINDS, Schedule, ScheduleConfig, make_betas, make_schedule, q_sample,
                                        rescale_zero_terminal_snr)
from genlab.schedules.predictions import ALPHA_MIN, target, to_x0_eps, v_target

ALL = [(kind, zero) for kind in KINDS for zero in (False, True)]


@pytest.mark.parametrize("kind, zero", ALL)
def test_alpha_bar_decreases_from_near_one(kind, zero):
    s = make_schedule(kind, zero_terminal_snr=zero)
    abar = s.alphas_cumprod64
    assert abar.shape == (1000,) and s.num_timesteps == 1000
    assert np.all(np.diff(abar) < 0), "alpha_bar must fall strictly with t"
    assert 0.999 < abar[0] < 1.0
    assert np.all((s.betas > 0) & (s.betas <= 1))
    for a in (s.betas, s.alphas_cumprod, s.sqrt_alphas_cumprod, s.sqrt_one_minus_alphas_cumprod):
        assert a.dtype == np.float32 and a.shape == (1000,)
    np.testing.assert_allclose(s.sqrt_alphas_cumprod**2 + s.sqrt_one_minus_alphas_cumprod**2, 1.0, atol=1e-6)


def test_published_endpoints():
    lin = make_schedule("linear")
    assert lin.betas[0] == pytest.approx(1e-4) and lin.betas[-1] == pytest.approx(0.02)
    assert lin.alphas_cumprod[-1] == pytest.approx(4.036e-5, rel=1e-3)  # DDPM's alpha_bar_T: SNR is not 0
    sd = make_schedule("scaled_linear")
    assert sd.betas[0] == pytest.approx(0.00085) and sd.betas[-1] == pytest.approx(0.012)
    assert sd.alphas_cumprod[-1] == pytest.approx(0.00466, rel=1e-2)  # Stable Diffusion's: far from pure noise
    np.testing.assert_allclose(np.sqrt(sd.betas), np.linspace(0.00085**0.5, 0.012**0.5, 1000), rtol=1e-6)


def test_cosine_follows_its_closed_form():
    s = make_schedule("cosine")
    f = lambda u: np.cos((u + 0.008) / 1.008 * np.pi / 2) ** 2  # noqa: E731
    t = np.arange(1000)
    expected = f((t + 1) / 1000) / f(0.0)  # alpha_bar after step t (Nichol & Dhariwal 2021, eq. 17)
    np.testing.assert_allclose(s.alphas_cumprod64[:-1], expected[:-1], rtol=1e-9)
    assert s.betas[-1] == pytest.approx(0.999)  # the last beta would be 1: clipped


@pytest.mark.parametrize("kind", KINDS)
def test_zero_terminal_snr(kind):
    plain, zero = make_schedule(kind), make_schedule(kind, zero_terminal_snr=True)
    assert zero.alphas_cumprod[-1] == 0.0 and zero.betas[-1] == 1.0
    assert float(zero.snr(jnp.array(999))) == 0.0 and float(zero.alpha(jnp.array(999))) == 0.0
    assert zero.alphas_cumprod64[0] == pytest.approx(plain.alphas_cumprod64[0], rel=1e-12)
    # Algorithm 1 is an affine map of sqrt(alpha_bar): shift the last value to 0, keep the first
    a, b = np.sqrt(plain.alphas_cumprod64), np.sqrt(zero.alphas_cumprod64)
    np.testing.assert_allclose(b, (a - a[-1]) * a[0] / (a[0] - a[-1]), atol=1e-12)


def test_rescale_keeps_a_zero_snr_schedule():
    betas = rescale_zero_terminal_snr(make_betas(ScheduleConfig("linear")))
    np.testing.assert_allclose(rescale_zero_terminal_snr(betas), betas, atol=1e-12)


def test_lookups_and_snr():
    s = make_schedule("linear")
    t = jnp.array([0, 10, 999])
    np.testing.assert_allclose(s.alpha_bar(t), s.alphas_cumprod[[0, 10, 999]])
    abar = s.alphas_cumprod64[[0, 10, 999]]
    np.testing.assert_allclose(s.snr(t), abar / (1 - abar), rtol=1e-6)  # float64: 1 - abar_0 loses digits in f32
    assert jax.jit(lambda t: s.sigma(t))(t).shape == (3,)


def test_schedule_is_hashable_by_config():
    a, b = make_schedule("cosine"), make_schedule(ScheduleConfig(kind="cosine"))
    assert a == b and hash(a) == hash(b) and a != make_schedule("cosine", zero_terminal_snr=True)
    assert ScheduleConfig("linear") == ScheduleConfig("linear", beta_start=1e-4, beta_end=0.02)
    assert isinstance(a, Schedule) and "cosine" in repr(a)


def test_bad_configs_are_named():
    with pytest.raises(ValueError, match="unknown schedule kind"):
        ScheduleConfig(kind="quadratic")
    with pytest.raises(ValueError, match="beta_start"):
        ScheduleConfig(kind="linear", beta_start=0.1, beta_end=0.01)


def test_q_sample_statistics():
    s = make_schedule("linear")
    n, c = 20_000, 0.7
    for t in (0, 250, 999):
        x0 = jnp.full((n, 2, 2, 1), c)
        noise = jax.random.normal(jax.random.key(t), x0.shape)
        x_t = np.asarray(q_sample(x0, jnp.full((n,), t), noise, s))
        abar = s.alphas_cumprod64[t]
        assert x_t.mean() == pytest.approx(np.sqrt(abar) * c, abs=0.01)
        assert x_t.var() == pytest.approx(1 - abar, abs=0.01 + 0.02 * (1 - abar))


def test_q_sample_per_example_steps():
    s = make_schedule("linear")
    x0, noise = jnp.ones((2, 3, 3, 1)), jnp.zeros((2, 3, 3, 1))
    out = q_sample(x0, jnp.array([0, 999]), noise, s)
    np.testing.assert_allclose(out[:, 0, 0, 0], np.sqrt(s.alphas_cumprod[[0, 999]]), rtol=1e-6)


@pytest.mark.parametrize("prediction", ["eps", "v", "x0"])
def test_conversions_recover_x0_and_eps(prediction):
    k1, k2 = jax.random.split(jax.random.key(0))
    x0, eps = jax.random.normal(k1, (4, 3, 3, 2)), jax.random.normal(k2, (4, 3, 3, 2))
    abar = jnp.array([0.999, 0.5, 0.01, 0.0])[:, None, None, None]  # the last: zero SNR
    alpha, sigma = jnp.sqrt(abar), jnp.sqrt(1 - abar)
    x_t = alpha * x0 + sigma * eps
    x0_hat, eps_hat = to_x0_eps(prediction, target(prediction, x0, eps, alpha, sigma), x_t, alpha, sigma)
    np.testing.assert_allclose(eps_hat, eps, atol=1e-5)
    ok = slice(None) if prediction != "eps" else slice(0, 3)  # eps cannot give x0 at alpha = 0 ...
    np.testing.assert_allclose(x0_hat[ok], x0[ok], atol=2e-3 if prediction == "eps" else 1e-5)
    assert np.all(np.isfinite(x0_hat))  # ... but stays finite (alpha floored at ALPHA_MIN)
    assert ALPHA_MIN == 2.0**-12


def test_v_is_a_rotation_of_x0_and_eps():
    """v = alpha eps - sigma x0; (x_t, v) is (x0, eps) rotated, so |x_t|^2 + |v|^2 = |x0|^2 + |eps|^2."""
    x0, eps, a = jnp.array([0.3, -1.0]), jnp.array([1.2, 0.4]), 0.6
    v, x_t = v_target(x0, eps, a, 0.8), a * x0 + 0.8 * eps
    np.testing.assert_allclose(x_t**2 + v**2, x0**2 + eps**2, rtol=1e-6)
