"""A diffusion model as a flow: its noise levels as flow times, and its probability-flow ODE.

A discrete-time diffusion model noises data as ``x = √ᾱ_t x_data + √(1 − ᾱ_t) ε`` at steps t = 0..T−1
(``genlab.schedules.diffusion``). That is a point on a variance-preserving affine path
``x_τ = a_τ x1 + b_τ x0`` of ``genlab.paths.affine`` (``vp`` or ``cosine``, a² + b² = 1) at the flow time τ_t
with ``a(τ_t)² = ᾱ_t`` (:func:`flow_times`; for ``vp``, whose β ∈ [0.1, 20] is the continuous limit of DDPM's
linear schedule, τ_{T−1} ≈ 0 and τ_0 ≈ 0.999). So one network ``net(x, τ)`` with a continuous time input serves

- the discrete samplers (DDPM, DDIM, DPM-Solver++ of ``genlab.samplers.diffusion``) through
  :func:`step_network`, which feeds it τ_t for step t (training uses the same map, so the network sees noise
  levels, not step numbers);
- the probability-flow ODE (Song et al. 2021, eq. 13) through :func:`pf_ode`: the ε-prediction turned into
  the path's velocity by ``genlab.paths.affine.convert`` and integrated with the flow's own solvers
  (``genlab.samplers.ode``: Euler, Heun, ..., Dopri5) from τ_{T−1} to τ_0.

The data end is singular on a VP path (ḃ = −a ȧ / b → ∞ as b → 0: the ODE cannot be evaluated at τ = 1), so, as
the ODE sampler of Song et al. 2021 (``denoise=True``) and DDIM's last step do, the solve stops at τ_0 (the
least noisy training step, b ≈ 0.01) and finishes with one denoising jump ``x_data = (x − b ε̂) / a``: one more
function evaluation, counted in the NFE.

An ε-field here is ``eps_fn(x: [B, d], τ: scalar or [B]) -> [B, d]``: :func:`network_eps` of a network,
:func:`oracle_eps` of a Gaussian mixture (the exact ε = −b ∇log p_τ, the "perfect model"), :func:`step_index_eps`
of a (text-conditioned, guided) ε-network trained on integer steps, such as the latent-diffusion U-Net.
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np

from genlab.models.layers.blocks import TIME_SCALE
from genlab.objectives.diffusion import null_condition
from genlab.paths import oracle
from genlab.paths.affine import AffinePath, convert
from genlab.samplers.guidance import model_output
from genlab.samplers.ode import ODESolution, dopri5, odeint
from genlab.schedules.diffusion import Schedule


def flow_time_of_abar(path: AffinePath, abar) -> np.ndarray:
    """τ with ``a(τ)² = ᾱ`` on a variance-preserving ``path`` (NumPy float64, any shape).

    vp: a² = exp(−B(s)) with s = 1 − τ and B(s) = β_min s + (β_max − β_min) s² / 2, so s solves the quadratic
    B(s) = −log ᾱ; cosine: a = sin(πτ/2), τ = (2/π) arcsin √ᾱ.
    """
    abar = np.asarray(abar, np.float64)
    if path.kind == "vp":
        lo, hi = path.beta_min, path.beta_max
        s = (-lo + np.sqrt(lo**2 + 2.0 * (hi - lo) * -np.log(abar))) / (hi - lo)
        return 1.0 - s
    if path.kind == "cosine":
        return 2.0 / math.pi * np.arcsin(np.sqrt(abar))
    raise ValueError(f"path {path.kind!r} is not variance-preserving (a² + b² = 1): use 'vp' or 'cosine'")


@functools.lru_cache(maxsize=16)
def flow_times(schedule: Schedule, path: AffinePath) -> np.ndarray:
    """``[T]`` float64 (read-only): the flow time τ_t of every training step t (descending in t)."""
    taus = flow_time_of_abar(path, schedule.alphas_cumprod64)
    taus.setflags(write=False)
    return taus


def step_network(net, schedule: Schedule, path: AffinePath):
    """The diffusion model ``model(x_t, t, cond=None, cond_mask=None) -> ε̂`` (integer steps ``t: [B]``) of a
    time-continuous ε-network ``net(x, τ: [B]) -> [B, d]``: step t is fed as τ_t. Unconditional (cond ignored)."""
    taus = flow_times(schedule, path)

    def model(x_t, t, cond=None, cond_mask=None):
        return net(x_t, jnp.asarray(taus, jnp.float32)[t])

    return model


def network_eps(net):
    """``eps_fn(x, τ)`` of a network ``net(x, τ: [B])`` (a scalar τ is broadcast over the batch)."""
    return lambda x, tau: net(x, jnp.broadcast_to(jnp.asarray(tau, jnp.float32), x.shape[:1]))


def step_index_eps(model, schedule: Schedule, path: AffinePath, cond=None, cond_mask=None, guidance=1.0, *,
                   guided: bool = False, null_cond=None, null_mask=None):
    """``eps_fn(x, τ)`` (scalar τ) of a network ``model(x_t, t, cond, cond_mask)`` trained on the integer steps t of
    ``schedule``: τ is read as the fractional step s(τ) (linear interpolation between the steps' flow times, as
    k-diffusion's ``DiscreteEpsDDPMDenoiser`` does) and fed as the float s / ``TIME_SCALE``, which the U-Net's time
    embedding reads as step s (at an integer step the embedding it was trained on, up to float32 rounding).
    Guidance as in ``genlab.samplers.guidance.model_output`` (cond: [B, L, D], cond_mask: [B, L]; ``guided``
    static)."""
    if guided:
        null_cond, null_mask = null_condition(cond, null_cond, null_mask)
    taus = flow_times(schedule, path)  # [T] descending in t
    tau_up = jnp.asarray(taus[::-1], jnp.float32)  # ascending, for interp
    step_up = jnp.arange(len(taus) - 1, -1, -1, dtype=jnp.float32)  # the step of each

    def eps_fn(x, tau):
        s = jnp.interp(jnp.asarray(tau, jnp.float32), tau_up, step_up)  # fractional step, scalar
        return model_output(model, x, s / TIME_SCALE, cond, cond_mask, null_cond, null_mask, guidance, guided)

    return eps_fn


def oracle_eps(mix: oracle.GaussianMixture, path: AffinePath):
    """The exact ``eps_fn(x, τ) = E[x0 | x_τ = x] = −b ∇log p_τ(x)`` of mixture data on ``path``."""
    return lambda x, tau: convert(path, oracle.score(mix, path, x, tau), x, tau, "score", "eps")


def pf_field(eps_fn, path: AffinePath):
    """The probability-flow ODE's velocity ``field(x, τ)``: the ε-prediction converted to ȧ x̂_data + ḃ ε̂."""
    return lambda x, tau: convert(path, eps_fn(x, tau), x, tau, "eps", "velocity")


def denoise(eps_fn, path: AffinePath, x: jax.Array, tau) -> jax.Array:
    """One jump to the data: ``x̂_data = (x − b ε̂) / a`` at time ``tau`` (one function evaluation)."""
    return convert(path, eps_fn(x, tau), x, tau, "eps", "data")


def pf_ode(eps_fn, x: jax.Array, path: AffinePath, *, t0: float, t1: float, method: str = "euler",
           steps: int = 100, rtol: float = 1e-5, trajectory: bool = False) -> ODESolution:
    """Solve the probability-flow ODE of ``eps_fn`` from ``x: [B, d]`` at τ = ``t0`` (noise) to ``t1`` and denoise.

    method: a fixed-step method of ``genlab.samplers.ode`` with ``steps`` steps (``steps = 0``: the denoising
    jump alone, from ``t0``), or ``"dopri5"`` with ``rtol = atol = rtol``. Returns the denoised data
    ``x``, ``nfe`` = the solver's evaluations + 1, and with ``trajectory`` the states on the grid (the
    denoised point appended as the last, at τ = 1): ``xs: [steps + 2, B, d]``, ``ts: [steps + 2]``.
    """
    if steps < 0:
        raise ValueError(f"steps must be >= 0, got {steps}")
    field = pf_field(eps_fn, path)
    if method == "dopri5":
        if trajectory and steps < 1:
            raise ValueError("dopri5 with trajectory=True saves its dense output at `steps` uniform steps: pass steps >= 1")
        sol = dopri5(field, x, t0=t0, t1=t1, rtol=rtol, atol=rtol, trajectory_steps=steps if trajectory else 0)
    elif steps == 0:
        sol = ODESolution(x, 0, x[None], jnp.asarray([t0], jnp.float32)) if trajectory else ODESolution(x, 0)
    else:
        sol = odeint(field, x, method=method, steps=steps, t0=t0, t1=t1, trajectory=trajectory)
    t_end = t1 if steps or method == "dopri5" else t0
    data = denoise(eps_fn, path, sol.x, t_end)
    if not trajectory:
        return ODESolution(data, sol.nfe + 1)
    return ODESolution(data, sol.nfe + 1, jnp.concatenate([sol.xs, data[None]]),
                       jnp.concatenate([jnp.asarray(sol.ts, jnp.float32), jnp.ones((1,), jnp.float32)]))


def solve_range(schedule: Schedule, path: AffinePath) -> tuple[float, float]:
    """``(t0, t1)``: the flow times of the noisiest (T−1) and the least noisy (0) training step."""
    taus = flow_times(schedule, path)
    return float(taus[-1]), float(taus[0])
