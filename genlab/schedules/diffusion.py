"""Discrete-time noise schedules of diffusion models and the forward noising ``q(x_t | x_0)``.

The forward process adds Gaussian noise in ``T`` steps, ``t = 0, 1, ..., T-1`` (0 is the least noisy,
as in diffusers). With ``beta_t`` the variance added at step t (Ho et al. 2020, eq. 2 and 4):

    alpha_bar_t = prod_{s <= t} (1 - beta_s)                  ("alphas_cumprod")
    x_t = sqrt(alpha_bar_t) * x0 + sqrt(1 - alpha_bar_t) * eps,   eps ~ N(0, I)

We write ``alpha_t = sqrt(alpha_bar_t)`` and ``sigma_t = sqrt(1 - alpha_bar_t)`` (the notation of VDM and
DPM-Solver, so ``x_t = alpha_t x0 + sigma_t eps``), ``SNR_t = alpha_bar_t / (1 - alpha_bar_t)``.

Kinds (``ScheduleConfig.kind``):

- ``linear``: beta linear from 1e-4 to 0.02, T = 1000 (DDPM, Ho et al. 2020, sec. 4);
- ``scaled_linear``: sqrt(beta) linear from sqrt(0.00085) to sqrt(0.012) (Stable Diffusion; Rombach et al. 2022);
- ``cosine``: alpha_bar(t) = f(t) / f(0), f(t) = cos^2((t/T + s) / (1 + s) * pi/2), s = 0.008, each beta clipped
  at 0.999 (Nichol & Dhariwal 2021, eq. 17).

``zero_terminal_snr=True`` rescales sqrt(alpha_bar) so that alpha_bar_{T-1} = 0 exactly and alpha_bar_0 is
unchanged (Lin et al. 2023, "Common Diffusion Noise Schedules and Sample Steps are Flawed", Algorithm 1): the
last step is then pure noise, as the sampler's starting point x_T ~ N(0, I) assumes. At that step ``x0`` cannot be
read from an eps-prediction (it is multiplied by alpha = 0); train with ``prediction="v"`` (Lin et al., sec. 3.2).

Everything is computed in NumPy float64 and stored as float32 NumPy arrays (shared/STYLE.md, habit 9); a
``Schedule`` is hashable (by its config), so it can be a static argument of ``jax.jit``.
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np

KINDS = ("linear", "scaled_linear", "cosine")
_BETA_RANGE = {"linear": (1e-4, 0.02), "scaled_linear": (0.00085, 0.012), "cosine": (None, None)}


@dataclasses.dataclass(frozen=True)
class ScheduleConfig:
    """Which schedule: kind, number of steps T, beta range (None: the kind's published values), zero-SNR rescale."""

    kind: str = "linear"  # one of KINDS
    num_timesteps: int = 1000  # T
    beta_start: float | None = None  # linear / scaled_linear only; None: 1e-4 (linear), 0.00085 (scaled_linear)
    beta_end: float | None = None  # None: 0.02 (linear), 0.012 (scaled_linear)
    cosine_s: float = 0.008  # cosine only: offset s (Nichol & Dhariwal 2021, sec. 3.2)
    max_beta: float = 0.999  # cosine only: clip of each beta
    zero_terminal_snr: bool = False  # rescale to alpha_bar_{T-1} = 0 (Lin et al. 2023, Algorithm 1)

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"unknown schedule kind {self.kind!r}: choose one of {', '.join(KINDS)}")
        if self.num_timesteps < 2:
            raise ValueError(f"num_timesteps must be >= 2, got {self.num_timesteps}")
        start, end = _BETA_RANGE[self.kind]
        object.__setattr__(self, "beta_start", self.beta_start if self.beta_start is not None else start)
        object.__setattr__(self, "beta_end", self.beta_end if self.beta_end is not None else end)
        if self.kind != "cosine" and not 0 < self.beta_start <= self.beta_end < 1:
            raise ValueError(f"need 0 < beta_start <= beta_end < 1, got {self.beta_start}, {self.beta_end}")


def make_betas(config: ScheduleConfig) -> np.ndarray:
    """``[T]`` float64 betas of ``config`` (before any zero-SNR rescale)."""
    n = config.num_timesteps
    if config.kind == "linear":
        return np.linspace(config.beta_start, config.beta_end, n, dtype=np.float64)
    if config.kind == "scaled_linear":
        return np.linspace(config.beta_start**0.5, config.beta_end**0.5, n, dtype=np.float64) ** 2
    s = config.cosine_s
    f = lambda u: np.cos((u + s) / (1 + s) * np.pi / 2) ** 2  # noqa: E731  u = t / T in [0, 1]
    u = np.arange(n + 1, dtype=np.float64) / n
    return np.minimum(1.0 - f(u[1:]) / f(u[:-1]), config.max_beta)  # beta_t = 1 - abar(t+1)/abar(t), clipped


def rescale_zero_terminal_snr(betas: np.ndarray) -> np.ndarray:
    """Lin et al. 2023, Algorithm 1: shift and scale sqrt(alpha_bar) so its last value is 0 and its first unchanged.

    ``betas: [T]`` -> rescaled ``[T]`` float64 betas; the last one is exactly 1.
    """
    alpha_bar_sqrt = np.sqrt(np.cumprod(1.0 - np.asarray(betas, np.float64)))
    first, last = alpha_bar_sqrt[0], alpha_bar_sqrt[-1]
    alpha_bar_sqrt = (alpha_bar_sqrt - last) * first / (first - last)  # shift: last -> 0; scale: first -> first
    alpha_bar = alpha_bar_sqrt**2
    alphas = np.concatenate([alpha_bar[:1], alpha_bar[1:] / alpha_bar[:-1]])  # undo the cumulative product
    return 1.0 - alphas


@functools.lru_cache(maxsize=32)
def _alphas_cumprod64(config: ScheduleConfig) -> np.ndarray:
    betas = make_betas(config)
    if config.zero_terminal_snr:
        betas = rescale_zero_terminal_snr(betas)
    abar = np.cumprod(1.0 - betas)
    abar.setflags(write=False)
    return abar


@dataclasses.dataclass(frozen=True, eq=False)
class Schedule:
    """A noise schedule: float32 NumPy arrays ``[T]`` from a float64 computation, and lookups by step.

    Fields: ``betas``, ``alphas_cumprod`` (alpha_bar), ``sqrt_alphas_cumprod`` (alpha_t),
    ``sqrt_one_minus_alphas_cumprod`` (sigma_t). Lookups take integer steps ``t`` (any shape, traced or not)
    and return float32 arrays of that shape. Equal configs give equal (and equally hashed) schedules.
    """

    config: ScheduleConfig
    betas: np.ndarray
    alphas_cumprod: np.ndarray
    sqrt_alphas_cumprod: np.ndarray
    sqrt_one_minus_alphas_cumprod: np.ndarray

    @classmethod
    def from_config(cls, config: ScheduleConfig) -> Schedule:
        abar = _alphas_cumprod64(config)
        betas = 1.0 - abar / np.concatenate([[1.0], abar[:-1]])
        f32 = lambda a: np.asarray(a, np.float32)  # noqa: E731
        return cls(config, f32(betas), f32(abar), f32(np.sqrt(abar)), f32(np.sqrt(1.0 - abar)))

    @property
    def num_timesteps(self) -> int:
        """T: steps run 0 .. T-1."""
        return self.config.num_timesteps

    @property
    def alphas_cumprod64(self) -> np.ndarray:
        """``[T]`` float64 alpha_bar, read-only (samplers build their per-step coefficients from it)."""
        return _alphas_cumprod64(self.config)

    def alpha_bar(self, t: jax.Array) -> jax.Array:
        """alpha_bar_t, the share of signal variance in x_t. ``t``: int array -> float32 of the same shape."""
        return jnp.asarray(self.alphas_cumprod)[t]

    def alpha(self, t: jax.Array) -> jax.Array:
        """alpha_t = sqrt(alpha_bar_t), the scale of x0 in x_t."""
        return jnp.asarray(self.sqrt_alphas_cumprod)[t]

    def sigma(self, t: jax.Array) -> jax.Array:
        """sigma_t = sqrt(1 - alpha_bar_t), the scale of the noise in x_t."""
        return jnp.asarray(self.sqrt_one_minus_alphas_cumprod)[t]

    def snr(self, t: jax.Array) -> jax.Array:
        """SNR_t = alpha_bar_t / (1 - alpha_bar_t) (Kingma et al. 2021, VDM); 0 at a zero-SNR final step."""
        abar = self.alphas_cumprod64
        return jnp.asarray(abar / (1.0 - abar), jnp.float32)[t]

    def __eq__(self, other) -> bool:
        return isinstance(other, Schedule) and other.config == self.config

    def __hash__(self) -> int:
        return hash(self.config)

    def __repr__(self) -> str:
        return f"Schedule({self.config})"


def make_schedule(config: ScheduleConfig | str = "linear", **overrides) -> Schedule:
    """``make_schedule("cosine", zero_terminal_snr=True)`` or ``make_schedule(ScheduleConfig(...))``."""
    if isinstance(config, str):
        config = ScheduleConfig(kind=config, **overrides)
    elif overrides:
        config = dataclasses.replace(config, **overrides)
    return Schedule.from_config(config)


def _expand(a: jax.Array, ndim: int) -> jax.Array:
    """``[B]`` -> ``[B, 1, ..., 1]`` with ``ndim`` axes in all."""
    return a.reshape(a.shape + (1,) * (ndim - a.ndim))


def q_sample(x0: jax.Array, t: jax.Array, noise: jax.Array, schedule: Schedule) -> jax.Array:
    """Forward noising q(x_t | x_0) (Ho et al. 2020, eq. 4): ``x_t = alpha_t x0 + sigma_t noise``.

    x0, noise: [B, H, W, C] (any trailing shape); t: [B] int steps (or a scalar) -> x_t: like x0.
    """
    t = jnp.asarray(t)
    alpha, sigma = _expand(schedule.alpha(t), x0.ndim), _expand(schedule.sigma(t), x0.ndim)
    return alpha.astype(x0.dtype) * x0 + sigma.astype(x0.dtype) * noise
