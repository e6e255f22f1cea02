"""DDPM, DDIM and DPM-Solver++ as specifications: spacings, exactness on Gaussian data, the compiled loop against
a step-by-step NumPy loop written from diffusers' formulas, and classifier-free guidance."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from genlab.models.unet import UNet, UNetConfig
from genlab.samplers.diffusion import SamplerConfig, sample, sample_loop
from genlab.samplers.guidance import cfg_combine
from genlab.samplers.timesteps import previous_timesteps, timesteps
from genlab.samplers.updates import ddim_coefficients, ddpm_coefficients
from genlab.schedules.diffusion import make_schedule

T = 1000
SCHEDULE = make_schedule("linear")
MU, S = 1.5, 0.5  # the Gaussian data N(MU, S^2 I) of the exactness tests


# --- spacings ------------------------------------------------------------------------------------------------

def test_spacings_for_50_steps_are_diffusers():
    """diffusers DDIMScheduler.set_timesteps, T = 1000, n = 50 (literal values from its formulas)."""
    np.testing.assert_array_equal(timesteps(50, T, "leading"), np.arange(980, -1, -20))  # the pitfall: 980
    np.testing.assert_array_equal(timesteps(50, T, "leading", steps_offset=1), np.arange(981, 0, -20))  # SD
    np.testing.assert_array_equal(timesteps(50, T, "trailing"), np.arange(999, 0, -20))
    np.testing.assert_array_equal(timesteps(50, T, "linspace"), [
        999, 979, 958, 938, 917, 897, 877, 856, 836, 816, 795, 775, 754, 734, 714, 693, 673, 652, 632, 612, 591,
        571, 550, 530, 510, 489, 469, 449, 428, 408, 387, 367, 347, 326, 306, 285, 265, 245, 224, 204, 183, 163,
        143, 122, 102, 82, 61, 41, 20, 0])


def test_multistep_spacings_are_dpmsolver_multistep():
    """DPMSolverMultistepScheduler.set_timesteps: an n + 1 grid without its last point."""
    lin = timesteps(50, T, "linspace", multistep=True)
    np.testing.assert_array_equal(lin, np.linspace(0, T - 1, 51).round()[::-1][:-1])
    assert (lin[0], lin[-1]) == (999, 20)
    lead = timesteps(50, T, "leading", multistep=True)
    np.testing.assert_array_equal(lead, (np.arange(51) * (T // 51))[::-1][:-1])
    assert (lead[0], lead[-1]) == (950, 19)
    np.testing.assert_array_equal(timesteps(50, T, "trailing", multistep=True), timesteps(50, T, "trailing"))


@pytest.mark.parametrize("n", [1, 3, 7, 10, 61, 333, 999, 1000])
def test_trailing_matches_diffusers_arange(n):
    diffusers = np.round(np.arange(T, 0, -T / n)).astype(np.int64) - 1  # n, or n + 1 values for some n (61)
    np.testing.assert_array_equal(timesteps(n, T, "trailing"), diffusers[:n])


def test_previous_steps_end_at_clean_data():
    np.testing.assert_array_equal(previous_timesteps(np.array([999, 499, 0])), [499, 0, -1])
    with pytest.raises(ValueError, match="steps must be in"):
        timesteps(1001, T)
    with pytest.raises(ValueError, match="unknown timestep spacing"):
        timesteps(10, T, "uniform")


# --- update coefficients -------------------------------------------------------------------------------------

def test_ddpm_is_ddim_with_eta_one():
    abar = SCHEDULE.alphas_cumprod64
    ts = timesteps(20, T)
    at, ap = abar[ts], np.append(abar[ts[1:]], 1.0)
    p, d = ddpm_coefficients(at, ap), ddim_coefficients(at, ap, eta=1.0)
    # DDIM's eps_hat = (x_t - alpha x0_hat) / sigma: rewrite its update in x_t and x0_hat
    np.testing.assert_allclose(p.x_t, d.eps / np.sqrt(1 - at), atol=1e-12)
    np.testing.assert_allclose(p.x0, d.x0 - d.eps * np.sqrt(at / (1 - at)), atol=1e-12)
    np.testing.assert_allclose(p.noise, d.noise, atol=1e-12)
    assert p.noise[-1] == 0.0  # the last step adds no noise


# --- closed-form Gaussian data -------------------------------------------------------------------------------

def gaussian_model(schedule, prediction="eps"):
    """The exact E[eps | x_t] (or E[v | x_t]) for data N(MU, S^2 I)."""

    def model(x, t, cond=None, cond_mask=None):
        abar = schedule.alpha_bar(t).reshape(-1, *([1] * (x.ndim - 1)))
        alpha, sigma, var = jnp.sqrt(abar), jnp.sqrt(1 - abar), abar * S**2 + 1 - abar
        eps = (x - alpha * MU) * sigma / var
        if prediction == "eps":
            return eps
        x0 = MU + alpha * S**2 * (x - alpha * MU) / var
        return alpha * eps - sigma * x0

    return model


X_T = jax.random.normal(jax.random.key(0), (4096, 1, 1, 8))


@pytest.mark.parametrize("sampler, steps", [("ddpm", 200), ("ddim", 100), ("dpmpp_2m", 25)])
def test_exact_eps_reproduces_gaussian_data(sampler, steps):
    out = sample(gaussian_model(SCHEDULE), X_T, SCHEDULE, jax.random.key(1),
                 config=SamplerConfig(sampler=sampler, steps=steps))
    x = np.asarray(out.x0)
    assert x.mean() == pytest.approx(MU, abs=0.02)
    assert x.std() == pytest.approx(S, rel=0.04)


def test_dpm_solver_follows_the_probability_flow_map():
    """With exact eps the ODE maps x_T to MU + S x_T; DPM-Solver++ (2nd order) at 20 steps beats DDIM at 50."""
    exact = MU + S * np.asarray(X_T)
    err = {}
    for sampler, steps in [("dpmpp_2m", 50), ("dpmpp_2m", 20), ("ddim", 50)]:
        x = sample(gaussian_model(SCHEDULE), X_T, SCHEDULE, jax.random.key(1),
                   config=SamplerConfig(sampler=sampler, steps=steps)).x0
        err[sampler, steps] = float(np.abs(np.asarray(x) - exact).max())
    assert err["dpmpp_2m", 50] < 0.02
    assert err["dpmpp_2m", 20] < err["ddim", 50]


@pytest.mark.parametrize("sampler", ["ddim", "dpmpp_2m", "ddpm"])
def test_zero_snr_with_v_prediction_starts_from_pure_noise(sampler):
    zero = make_schedule("linear", zero_terminal_snr=True)
    config = SamplerConfig(sampler=sampler, steps=200 if sampler == "ddpm" else 50, prediction="v")
    out = sample(gaussian_model(zero, "v"), X_T, zero, jax.random.key(1), config=config, return_trajectory=True)
    assert int(out.trajectory.timesteps[0]) == 999 and zero.alphas_cumprod[999] == 0.0
    np.testing.assert_allclose(out.trajectory.x0[0], MU, atol=1e-5)  # at alpha = 0, x0_hat = E[x0] exactly
    x = np.asarray(out.x0)
    assert x.mean() == pytest.approx(MU, abs=0.02) and x.std() == pytest.approx(S, rel=0.06)


def test_zero_snr_with_eps_prediction_stays_finite():
    zero = make_schedule("linear", zero_terminal_snr=True)
    out = sample(gaussian_model(zero), X_T, zero, jax.random.key(1), config=SamplerConfig(steps=20, clip_x0=4.0))
    assert np.all(np.isfinite(out.x0))


# --- the compiled loop against a step-by-step NumPy loop -----------------------------------------------------

def toy(x, t, xp):
    """A nonlinear stand-in for a network: eps_hat(x_t, t)."""
    return 0.5 * xp.tanh(x) + 0.3 * x * (t / 1000.0)


def toy_model(x, t, cond=None, cond_mask=None):
    return toy(x, t.reshape(-1, 1, 1, 1).astype(jnp.float32), jnp)


def numpy_reference(sampler, x, ts, noises, eta=0.0):
    """diffusers' step functions (DDPMScheduler, DDIMScheduler, DPMSolverMultistepScheduler), one step at a time."""
    abar = SCHEDULE.alphas_cumprod64
    x, x0s = np.asarray(x, np.float64), []
    sig = np.append(np.sqrt((1 - abar[ts]) / abar[ts]), 0.0)  # DPM-Solver's sigmas, final_sigmas_type="zero"
    to_alpha_sigma = lambda s: (1 / np.sqrt(s**2 + 1), s / np.sqrt(s**2 + 1))  # noqa: E731
    for i, t in enumerate(ts):
        ab_t, ab_p = abar[t], abar[ts[i + 1]] if i + 1 < len(ts) else 1.0
        eps = toy(x, t, np)
        x0 = (x - np.sqrt(1 - ab_t) * eps) / np.sqrt(ab_t)
        if sampler == "ddim":
            std = eta * np.sqrt((1 - ab_p) / (1 - ab_t) * (1 - ab_t / ab_p))
            x = np.sqrt(ab_p) * x0 + np.sqrt(1 - ab_p - std**2) * eps + std * noises[i]
        elif sampler == "ddpm":
            beta = 1 - ab_t / ab_p
            mean = np.sqrt(ab_p) * beta / (1 - ab_t) * x0 + np.sqrt(1 - beta) * (1 - ab_p) / (1 - ab_t) * x
            x = mean + np.sqrt((1 - ab_p) / (1 - ab_t) * beta) * noises[i]
        else:
            with np.errstate(divide="ignore"):
                (a_t, s_t), (a_s, s_s) = to_alpha_sigma(sig[i + 1]), to_alpha_sigma(sig[i])
                h = (np.log(a_t) - np.log(s_t)) - (np.log(a_s) - np.log(s_s))
                first = np.exp(-h) - 1.0
                if i == 0 or i == len(ts) - 1:  # lower_order_nums < 1, lower_order_final
                    x = (s_t / s_s) * x - a_t * first * x0
                else:
                    a_1, s_1 = to_alpha_sigma(sig[i - 1])
                    r0 = ((np.log(a_s) - np.log(s_s)) - (np.log(a_1) - np.log(s_1))) / h
                    d1 = (x0 - x0s[-1]) / r0
                    x = (s_t / s_s) * x - a_t * first * x0 - 0.5 * a_t * first * d1
        x0s.append(x0)
    return x


@pytest.mark.parametrize("sampler, spacing, eta", [("ddim", "trailing", 0.0), ("ddim", "leading", 0.7),
                                                   ("ddpm", "linspace", 0.0), ("dpmpp_2m", "trailing", 0.0),
                                                   ("dpmpp_2m", "linspace", 0.0)])
def test_compiled_loop_equals_step_by_step_loop(sampler, spacing, eta):
    steps, key = 12, jax.random.key(3)
    x_T = jax.random.normal(jax.random.key(2), (3, 4, 4, 2))
    config = SamplerConfig(sampler=sampler, steps=steps, spacing=spacing, eta=eta)
    out = sample(toy_model, x_T, SCHEDULE, key, config=config, return_trajectory=True)
    noises = [np.asarray(jax.random.normal(k, x_T.shape)) for k in jax.random.split(key, steps)]
    ts = timesteps(steps, T, spacing, multistep=sampler == "dpmpp_2m")
    np.testing.assert_allclose(out.x0, numpy_reference(sampler, x_T, ts, noises, eta), atol=2e-4, rtol=1e-4)
    np.testing.assert_array_equal(out.trajectory.timesteps, ts)
    assert out.trajectory.x_t.shape == (steps + 1, 3, 4, 4, 2) and out.trajectory.x0.shape == (steps, 3, 4, 4, 2)
    np.testing.assert_array_equal(out.trajectory.x_t[0], x_T)
    np.testing.assert_array_equal(out.trajectory.x_t[-1], out.x0)


def test_ddim_eta_zero_is_deterministic():
    run = lambda key, eta: sample(toy_model, X_T[:8], SCHEDULE, key,  # noqa: E731
                                  config=SamplerConfig(steps=10, eta=eta)).x0
    np.testing.assert_array_equal(run(jax.random.key(0), 0.0), run(jax.random.key(1), 0.0))
    np.testing.assert_array_equal(run(jax.random.key(0), 1.0), run(jax.random.key(0), 1.0))  # same key, same
    assert not np.allclose(run(jax.random.key(0), 1.0), run(jax.random.key(1), 1.0))


# --- classifier-free guidance --------------------------------------------------------------------------------

def cond_model(x, t, cond=None, cond_mask=None):
    """eps_hat depends on the masked mean of the condition (0 when every token is masked out)."""
    m = cond_mask.astype(x.dtype)[..., None]
    c = (cond * m).sum(1) / jnp.maximum(m.sum(1), 1.0)  # [B, D]
    return 0.1 * x + c[:, None, None, :x.shape[-1]]


COND = jax.random.normal(jax.random.key(5), (4, 3, 2))
X_C = jax.random.normal(jax.random.key(6), (4, 2, 2, 2))


def test_guidance_one_equals_the_conditional_model():
    run = lambda w, **kw: sample(cond_model, X_C, SCHEDULE, jax.random.key(0),  # noqa: E731
                                 config=SamplerConfig(steps=8), cond=COND, guidance=w, **kw).x0
    unguided = run(1.0)  # one call per step on the batch
    doubled = run(jnp.float32(1.0))  # an array: the doubled [cond; null] batch
    np.testing.assert_allclose(doubled, unguided, rtol=1e-5, atol=1e-5)
    null_only = sample(cond_model, X_C, SCHEDULE, jax.random.key(0), config=SamplerConfig(steps=8), cond=COND,
                       cond_mask=jnp.zeros((4, 3), bool)).x0
    np.testing.assert_allclose(run(0.0), null_only, rtol=1e-5, atol=1e-5)  # w = 0: the unconditional model
    assert not np.allclose(run(3.0), unguided, atol=1e-3)
    null = jnp.ones((3, 2))  # given null states are used in place of the masked-out default
    assert not np.allclose(run(3.0, null_cond=null), run(3.0), atol=1e-3)


def test_cfg_combine_convention():
    c, n = jnp.array(2.0), jnp.array(1.0)
    assert float(cfg_combine(c, n, 1.0)) == 2.0 and float(cfg_combine(c, n, 0.0)) == 1.0
    assert float(cfg_combine(c, n, 3.0)) == 4.0  # eps_null + w (eps_cond - eps_null)


def test_guidance_without_a_condition_is_an_error():
    with pytest.raises(ValueError, match="needs a condition"):
        sample(toy_model, X_C, SCHEDULE, jax.random.key(0), guidance=3.0)
    with pytest.raises(ValueError, match="unknown sampler"):
        SamplerConfig(sampler="euler")
    with pytest.raises(ValueError, match="DDIM setting"):
        SamplerConfig(sampler="ddpm", eta=0.5)


@pytest.mark.slow  # building the U-Net eagerly takes 10-20 s on a busy 2-core machine; sampling ~1 s
def test_unet_sampling_is_deterministic_and_guided():
    unet = UNet(UNetConfig(in_channels=4, channels=(8, 16), time_dim=16, num_heads=2, cond_dim=8),
                rngs=nnx.Rngs(0))
    x_T, cond = jax.random.normal(jax.random.key(0), (2, 7, 7, 4)), jax.random.normal(jax.random.key(1), (2, 5, 8))
    config = SamplerConfig(sampler="dpmpp_2m", steps=4, prediction="v")
    run = lambda w: sample(unet, x_T, SCHEDULE, jax.random.key(2), config=config, cond=cond,  # noqa: E731
                           guidance=w, return_trajectory=True)
    a, b = run(1.0), run(1.0)
    assert a.x0.shape == (2, 7, 7, 4) and a.trajectory.eps.shape == (4, 2, 7, 7, 4)
    np.testing.assert_array_equal(a.x0, b.x0)
    np.testing.assert_allclose(run(jnp.float32(1.0)).x0, a.x0, atol=1e-4)
    assert np.all(np.isfinite(run(5.0).x0))


def test_sample_loop_composes_with_a_users_jit():
    config = SamplerConfig(sampler="dpmpp_2m", steps=6)
    run = jax.jit(lambda x, key, w: sample_loop(cond_model, x, SCHEDULE, key, COND, guidance=w, config=config,
                                                guided=True).x0)
    expected = sample(cond_model, X_C, SCHEDULE, jax.random.key(0), config=config, cond=COND, guidance=2.0).x0
    np.testing.assert_allclose(run(X_C, jax.random.key(0), 2.0), expected, rtol=1e-5, atol=1e-5)
