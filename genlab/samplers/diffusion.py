"""Diffusion samplers: DDPM (ancestral), DDIM (with eta) and DPM-Solver++ (2M), as one compiled ``lax.scan``.

    out = sample(unet, x_T, schedule, key, config=SamplerConfig(sampler="ddim", steps=50),
                 cond=text_states, cond_mask=text_mask, guidance=5.0, return_trajectory=True)
    out.x0                   # [B, H, W, C] the samples (e.g. latents for the VAE decoder)
    out.trajectory.x_t       # [steps + 1, B, H, W, C]: x_T, then the latent after every step
    out.trajectory.x0        # [steps, B, H, W, C]: the network's estimate of the clean sample at every step

The model is one thing: any callable ``model(x_t, t, cond, cond_mask) -> [B, H, W, C]`` with integer steps
``t: [B]`` (int32) and ``cond``/``cond_mask`` None for an unconditional model. A ``genlab.models.unet.UNet`` is
such a callable and is passed as it is (compiled with ``nnx.jit``); a plain function (e.g. the closed-form eps of
Gaussian data in the tests) is compiled with ``jax.jit`` as a static argument. ``config.prediction`` says what the
network predicts (eps, v, x0) and must match training.

Every step is the linear update of ``genlab.samplers.updates`` with per-step numbers computed in NumPy float64
when the loop is traced; the loop is ``jax.lax.scan`` over ``config.steps`` steps, so the whole sampler is one
compiled program. Randomness: ``x_T`` is given; DDPM and DDIM with eta > 0 draw the noise of step i from
``jax.random.split(key, steps)[i]``, so the same key gives the same samples.

Guidance (``genlab.samplers.guidance``): ``eps = eps_null + w (eps_cond - eps_null)``. A Python number
``guidance == 1`` compiles the unguided loop (one network call per step on the batch); any other value, or a
JAX array (one compilation then serves a whole guidance sweep), runs the doubled batch ``[x; x]`` with
``[cond; null]``. The null condition is ``null_cond``/``null_mask`` as in training
(``genlab.objectives.diffusion.null_condition``; default: every token masked out).

Zero terminal SNR (``ScheduleConfig.zero_terminal_snr``) with ``trailing`` spacing starts at a step with
alpha = 0, where only v- and x0-prediction determine x0. An eps-prediction is divided by alpha floored at
2**-12 (``schedules.predictions.ALPHA_MIN``), which stays finite but amplifies the network's error by 4096:
train such a schedule with ``prediction="v"``, or set ``clip_x0`` (clip x0_hat to [-clip_x0, clip_x0], as
diffusers' ``clip_sample``), or use ``leading`` spacing, which never visits the last step.
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from genlab.objectives.diffusion import null_condition
from genlab.samplers.guidance import model_output
from genlab.samplers.timesteps import SPACINGS, previous_timesteps, timesteps
from genlab.samplers.updates import StepCoefficients, coefficients
from genlab.schedules.diffusion import Schedule
from genlab.schedules.predictions import PREDICTIONS, to_x0_eps

SAMPLERS = ("ddpm", "ddim", "dpmpp_2m")


@dataclasses.dataclass(frozen=True)
class SamplerConfig:
    """How to sample: which sampler, how many steps, which steps (spacing), what the network predicts."""

    sampler: str = "ddim"  # one of SAMPLERS
    steps: int = 50  # network evaluations (times 2 rows with guidance)
    eta: float = 0.0  # DDIM only: 0 deterministic, 1 the DDPM posterior's noise
    spacing: str = "trailing"  # one of samplers.timesteps.SPACINGS; see there for the `leading` pitfall
    steps_offset: int = 0  # added to `leading` steps (Stable Diffusion: 1)
    prediction: str = "eps"  # what the network predicts: eps, v or x0 (as in training)
    clip_x0: float | None = None  # clip x0_hat to [-clip_x0, clip_x0] each step; None: no clipping

    def __post_init__(self):
        if self.sampler not in SAMPLERS:
            raise ValueError(f"unknown sampler {self.sampler!r}: choose one of {', '.join(SAMPLERS)}")
        if self.spacing not in SPACINGS:
            raise ValueError(f"unknown timestep spacing {self.spacing!r}: choose one of {', '.join(SPACINGS)}")
        if self.prediction not in PREDICTIONS:
            raise ValueError(f"unknown prediction {self.prediction!r}: choose one of {', '.join(PREDICTIONS)}")
        if self.steps < 1:
            raise ValueError(f"steps must be >= 1, got {self.steps}")
        if self.eta < 0 or (self.eta and self.sampler != "ddim"):
            raise ValueError(f"eta={self.eta}: eta >= 0 is a DDIM setting (DDPM is eta = 1, DPM-Solver++ eta = 0)")

    @property
    def stochastic(self) -> bool:
        """Whether steps add fresh noise (DDPM, DDIM with eta > 0)."""
        return self.sampler == "ddpm" or self.eta > 0

    @classmethod
    def tiny(cls) -> SamplerConfig:
        return cls(steps=4)

    @classmethod
    def cpu(cls) -> SamplerConfig:
        return cls()

    @classmethod
    def gpu(cls) -> SamplerConfig:
        return cls()


@dataclasses.dataclass(frozen=True)
class Plan:
    """The per-step numbers of a sampler on a schedule, NumPy float64 (``[N]`` each, N = steps)."""

    timesteps: np.ndarray  # t_i, int64, descending
    prev_timesteps: np.ndarray  # t_{i+1}; -1 (clean) after the last step
    alpha: np.ndarray  # alpha at t_i, to convert the network output
    sigma: np.ndarray  # sigma at t_i
    coefficients: StepCoefficients


def make_plan(schedule: Schedule, config: SamplerConfig) -> Plan:
    """The steps of ``config`` on ``schedule`` and their update coefficients."""
    abar = schedule.alphas_cumprod64
    ts = timesteps(config.steps, schedule.num_timesteps, config.spacing, config.steps_offset,
                   multistep=config.sampler == "dpmpp_2m")
    prev = previous_timesteps(ts)
    abar_t, abar_prev = abar[ts], np.where(prev >= 0, abar[np.maximum(prev, 0)], 1.0)
    return Plan(ts, prev, np.sqrt(abar_t), np.sqrt(1.0 - abar_t),
                coefficients(config.sampler, abar_t, abar_prev, config.eta))


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class Trajectory:
    """Every step of a sampling run, for figures."""

    timesteps: jax.Array  # [N] int32, the training step of each sampling step
    x_t: jax.Array  # [N + 1, B, H, W, C]: x_T, then the sample after each step (the last is the result)
    x0: jax.Array  # [N, B, H, W, C]: x0_hat at each step (after clipping)
    eps: jax.Array  # [N, B, H, W, C]: eps_hat at each step (guided)


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class SampleOutput:
    x0: jax.Array  # [B, H, W, C] the samples
    trajectory: Trajectory | None  # with return_trajectory=True


def sample_loop(model, x_T: jax.Array, schedule: Schedule, key: jax.Array, cond=None, cond_mask=None,
                null_cond=None, null_mask=None, guidance: jax.Array | float = 1.0, *, config: SamplerConfig,
                guided: bool = False, return_trajectory: bool = False) -> SampleOutput:
    """The sampling loop, traceable and not compiled (``sample`` compiles it); see the module docstring.

    x_T: [B, H, W, C] start noise; cond: [B, L, D], cond_mask: [B, L] bool or None (all True); null_cond,
    null_mask: as for :func:`sample` (used when ``guided``). ``schedule``, ``config``, ``guided`` and
    ``return_trajectory`` are static; call it inside your own ``jax.jit``/``nnx.jit`` to fuse it with more work.
    """
    if cond is not None and cond_mask is None:
        cond_mask = jnp.ones(cond.shape[:2], bool)
    if guided:
        if cond is None:
            raise ValueError("guided sampling needs a condition: pass cond")
        null_cond, null_mask = null_condition(cond, null_cond, null_mask)
    plan = make_plan(schedule, config)
    c = plan.coefficients
    f32 = functools.partial(jnp.asarray, dtype=jnp.float32)
    xs = {"t": jnp.asarray(plan.timesteps, jnp.int32), "alpha": f32(plan.alpha), "sigma": f32(plan.sigma),
          "c_x_t": f32(c.x_t), "c_x0": f32(c.x0), "c_eps": f32(c.eps), "c_dx0": f32(c.dx0), "c_noise": f32(c.noise)}
    if config.stochastic:
        xs["key"] = jax.random.split(key, config.steps)

    def step(carry, s):
        x, x0_before = carry
        out = model_output(model, x, s["t"], cond, cond_mask, null_cond, null_mask, guidance, guided)
        x0_hat, eps_hat = to_x0_eps(config.prediction, out, x, s["alpha"], s["sigma"])
        if config.clip_x0 is not None:
            x0_hat = jnp.clip(x0_hat, -config.clip_x0, config.clip_x0)
        x_prev = s["c_x_t"] * x + s["c_x0"] * x0_hat + s["c_eps"] * eps_hat + s["c_dx0"] * (x0_hat - x0_before)
        if config.stochastic:
            x_prev = x_prev + s["c_noise"] * jax.random.normal(s["key"], x.shape, x.dtype)
        return (x_prev, x0_hat), ((x_prev, x0_hat, eps_hat) if return_trajectory else None)

    (x, _), ys = jax.lax.scan(step, (x_T, jnp.zeros_like(x_T)), xs)
    if not return_trajectory:
        return SampleOutput(x, None)
    x_ts, x0s, epss = ys
    return SampleOutput(x, Trajectory(xs["t"], jnp.concatenate([x_T[None], x_ts]), x0s, epss))


_STATIC = ("schedule", "config", "guided", "return_trajectory")


def _run(model, x_T, key, cond, cond_mask, null_cond, null_mask, guidance, *, schedule, config, guided,
         return_trajectory):
    return sample_loop(model, x_T, schedule, key, cond, cond_mask, null_cond, null_mask, guidance, config=config,
                       guided=guided, return_trajectory=return_trajectory)


_run_module = nnx.jit(_run, static_argnames=_STATIC)  # an NNX model: its weights are traced arguments
_run_function = jax.jit(_run, static_argnums=0, static_argnames=_STATIC)  # a plain function: static


def _is_one(guidance) -> bool:
    return isinstance(guidance, (int, float, np.integer, np.floating)) and float(guidance) == 1.0


def sample(model, x_T: jax.Array, schedule: Schedule, key: jax.Array, *, config: SamplerConfig = SamplerConfig(),
           cond: jax.Array | None = None, cond_mask: jax.Array | None = None, null_cond: jax.Array | None = None,
           null_mask: jax.Array | None = None, guidance: jax.Array | float = 1.0,
           return_trajectory: bool = False) -> SampleOutput:
    """Sample from ``x_T: [B, H, W, C]`` with ``config``; compiled once per (model structure, shapes, config).

    cond: [B, L, D] condition (None: unconditional; then ``guidance`` must be 1); cond_mask: [B, L] bool
    (None: all True); null_cond: [L, D] or [1|B, L, D], null_mask: [L] or [1|B, L] (None: tokens masked out);
    guidance: w of ``eps_null + w (eps_cond - eps_null)``. Returns a :class:`SampleOutput`.
    """
    if cond is None:
        if not _is_one(guidance):
            raise ValueError(f"guidance={guidance} needs a condition: pass cond (and its null), or guidance=1")
        guided = False
    else:
        if cond.ndim != 3 or cond.shape[0] != x_T.shape[0]:
            raise ValueError(f"cond must be [B, L, D] with B={x_T.shape[0]}, got shape {cond.shape}")
        cond_mask = jnp.ones(cond.shape[:2], bool) if cond_mask is None else jnp.asarray(cond_mask, bool)
        guided = not _is_one(guidance)
    if not guided:
        null_cond = null_mask = None
    run = _run_module if isinstance(model, nnx.Module) else _run_function
    return run(model, x_T, key, cond, cond_mask, null_cond, null_mask, jnp.asarray(guidance, jnp.float32),
               schedule=schedule, config=config, guided=guided, return_trajectory=return_trajectory)
