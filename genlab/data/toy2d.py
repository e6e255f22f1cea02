"""2D toy distributions: ring8 and grid25 (PacGAN/VEEGAN protocol), moons, checkerboard, spirals.

ring8 and grid25 follow shared/REFERENCES.md exactly:
  ring8:  8 Gaussians, means (cos 2πk/8, sin 2πk/8), k = 0..7, σ = 0.01
  grid25: 25 Gaussians, means {-4,-2,0,2,4}², σ = 0.05
(Trap avoided: angles are 2πk/8 with k = 0..7, not ``np.linspace(0, 2π, 8)``, which repeats 0.)

Every sampler is a pure function of an explicit key: ``sample(key, n) -> [n, 2] float32``.

Your own 2D mixture (a lecturer's data set) is a :class:`Mixture`; it goes wherever a name does:

    mix = Mixture([[0, 0], [2, 0], [1, 1.5]], sigma=0.05, weights=[0.5, 0.3, 0.2], name="three")
    mix.sample(key, 1000)                                        # [1000, 2]
    train_gan2d(dataclasses.replace(Ring8Config.cpu(), data=mix), seed=0)   # genlab.experiments.gan2d
    mode_stats(samples, mix.centers, mix.sigma)                  # genlab.metrics.modes (VEEGAN)
    coverage_eval(G, mix, key); coverage_callback(mix, key)      # genlab.diagnostics.coverage -> diagnose
    samples_over_training(snapshots, mix.centers)                # genlab.figures.gan2d
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np


@dataclasses.dataclass(frozen=True)
class Toy2D:
    """A named 2D distribution. ``centers``/``sigma`` are set for Gaussian mixtures (metrics use them)."""

    name: str
    sampler: Callable[[jax.Array, int], jax.Array]
    centers: np.ndarray | None = None  # [K, 2] float64, mixture means
    sigma: float | None = None  # per-axis std of each mixture component

    def sample(self, key: jax.Array, n: int) -> jax.Array:
        """Draw ``n`` points: ``[n, 2]`` float32."""
        return self.sampler(key, n)

    def sample_np(self, seed: int, n: int) -> np.ndarray:
        """Convenience: ``n`` points as a NumPy array from an integer seed."""
        return np.asarray(self.sample(jax.random.key(seed), n))


def ring_centers(k: int = 8, radius: float = 1.0) -> np.ndarray:
    """``[k, 2]`` means on a circle at angles 2πj/k, j = 0..k-1 (REFERENCES.md, ring8)."""
    angles = 2.0 * np.pi * np.arange(k) / k
    return radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)


def grid_centers(side: int = 5, spacing: float = 2.0) -> np.ndarray:
    """``[side², 2]`` means on a square grid centred at 0, e.g. {-4,-2,0,2,4}² (REFERENCES.md, grid25)."""
    axis = spacing * (np.arange(side) - (side - 1) / 2)
    xx, yy = np.meshgrid(axis, axis, indexing="ij")
    return np.stack([xx.ravel(), yy.ravel()], axis=1)


@dataclasses.dataclass(frozen=True, eq=False)
class Mixture:
    """A mixture of isotropic 2D Gaussians: ``centers [K, 2]``, one ``sigma`` (per-axis std of every mode) and
    ``weights [K]`` (normalised to sum 1; default uniform). Compared and hashed by identity, so a jitted GAN step
    that takes its sampler as a static argument compiles once per mixture."""

    centers: np.ndarray  # [K, 2] float64, the modes' means
    sigma: float
    weights: np.ndarray | None = None  # [K] float64, sums to 1 (None: uniform)
    name: str = "mixture"

    def __post_init__(self):
        centers = np.array(self.centers, np.float64)
        if centers.ndim != 2 or centers.shape[1] != 2 or len(centers) < 1 or not np.isfinite(centers).all():
            raise ValueError(f"Mixture centers must be finite points [K, 2] with K >= 1, got shape {centers.shape}")
        if not (np.isfinite(self.sigma) and self.sigma > 0):
            raise ValueError(f"Mixture sigma must be a positive number (the std of every mode), got {self.sigma}")
        k = len(centers)
        weights = np.full(k, 1.0 / k) if self.weights is None else np.array(self.weights, np.float64)
        if weights.shape != (k,) or not np.isfinite(weights).all() or (weights < 0).any() or weights.sum() <= 0:
            raise ValueError(f"Mixture weights must be {k} non-negative numbers (one per centre) with a positive sum, "
                             f"got {self.weights}")
        weights = weights / weights.sum()
        centers.setflags(write=False)
        weights.setflags(write=False)
        object.__setattr__(self, "centers", centers)
        object.__setattr__(self, "sigma", float(self.sigma))
        object.__setattr__(self, "weights", weights)
        object.__setattr__(self, "_sampler", _mixture_sampler(centers, self.sigma, weights))

    def sample(self, key: jax.Array, n: int) -> jax.Array:
        """Draw ``n`` points: ``[n, 2]`` float32 (a mode by its weight, then Gaussian noise of std sigma)."""
        return self._sampler(key, n)

    def sample_np(self, seed: int, n: int) -> np.ndarray:
        """Convenience: ``n`` points as a NumPy array from an integer seed."""
        return np.asarray(self.sample(jax.random.key(seed), n))


def _mixture_sampler(centers: np.ndarray, sigma: float,
                     weights: np.ndarray | None = None) -> Callable[[jax.Array, int], jax.Array]:
    means_np = np.asarray(centers, np.float32)  # NumPy here: a jnp array made while this module is first imported
    # inside a jit trace would be that trace's tracer, leaked into every later call

    uniform = weights is None or np.allclose(weights, weights[0])
    log_w = None if uniform else np.log(np.maximum(np.asarray(weights, np.float64), 1e-300)).astype(np.float32)

    def sample(key: jax.Array, n: int) -> jax.Array:
        means = jnp.asarray(means_np)
        k_mode, k_noise = jax.random.split(key)
        if log_w is None:  # ring8, grid25: exactly the draws genlab always made
            idx = jax.random.randint(k_mode, (n,), 0, means.shape[0])
        else:
            idx = jax.random.categorical(k_mode, jnp.asarray(log_w), shape=(n,))
        return means[idx] + sigma * jax.random.normal(k_noise, (n, 2), jnp.float32)

    return sample


def mixture(name: str, centers: np.ndarray, sigma: float, weights: np.ndarray | None = None) -> Mixture:
    """A mixture of isotropic Gaussians with the given means, std and weights (None: uniform)."""
    return Mixture(centers, sigma, weights, name)


def _moons(key: jax.Array, n: int) -> jax.Array:
    k_side, k_t, k_noise = jax.random.split(key, 3)
    side = jax.random.bernoulli(k_side, 0.5, (n,))
    t = jnp.pi * jax.random.uniform(k_t, (n,))
    upper = jnp.stack([jnp.cos(t), jnp.sin(t)], axis=1)
    lower = jnp.stack([1.0 - jnp.cos(t), 0.5 - jnp.sin(t)], axis=1)
    x = jnp.where(side[:, None], upper, lower) - jnp.array([0.5, 0.25])
    return (x + 0.05 * jax.random.normal(k_noise, (n, 2))).astype(jnp.float32)


def _checkerboard(key: jax.Array, n: int) -> jax.Array:
    """Uniform on the black squares of a 4x4 board on [-2, 2]²."""
    k_x, k_y, k_shift = jax.random.split(key, 3)
    x = jax.random.uniform(k_x, (n,), minval=-2.0, maxval=2.0)
    y = jax.random.uniform(k_y, (n,), minval=0.0, maxval=1.0)
    row = jax.random.randint(k_shift, (n,), 0, 2) * 2  # 0 or 2
    col_parity = jnp.floor(x + 2.0).astype(jnp.int32) % 2
    y = y + row + col_parity - 2.0
    return jnp.stack([x, y], axis=1).astype(jnp.float32)


def _spirals(key: jax.Array, n: int) -> jax.Array:
    """Two interleaved spirals, scaled to about [-1, 1]²."""
    k_arm, k_t, k_noise = jax.random.split(key, 3)
    t = jnp.sqrt(jax.random.uniform(k_t, (n,))) * 3.0 * jnp.pi
    sign = jnp.where(jax.random.bernoulli(k_arm, 0.5, (n,)), 1.0, -1.0)
    x = sign[:, None] * jnp.stack([t * jnp.cos(t), t * jnp.sin(t)], axis=1) / (3.0 * jnp.pi)
    return (x + 0.02 * jax.random.normal(k_noise, (n, 2))).astype(jnp.float32)


RING8 = mixture("ring8", ring_centers(8, 1.0), 0.01)
GRID25 = mixture("grid25", grid_centers(5, 2.0), 0.05)
MOONS = Toy2D("moons", _moons)
CHECKERBOARD = Toy2D("checkerboard", _checkerboard)
SPIRALS = Toy2D("spirals", _spirals)

TOY2D: dict[str, Toy2D | Mixture] = {d.name: d for d in (RING8, GRID25, MOONS, CHECKERBOARD, SPIRALS)}


def toy2d(data: str | Toy2D | Mixture) -> Toy2D | Mixture:
    """A 2D set by name (``ring8``, ``grid25``, ``moons``, ``checkerboard``, ``spirals``); a :class:`Mixture` or
    :class:`Toy2D` of your own comes back as it is."""
    if isinstance(data, (Toy2D, Mixture)):
        return data
    try:
        return TOY2D[data]
    except (KeyError, TypeError):
        raise ValueError(f"unknown 2D dataset {data!r}: choose one of {', '.join(TOY2D)}, "
                         "or pass a genlab.data.toy2d.Mixture(centers, sigma, weights) of your own") from None


@functools.cache
def batch_sampler(data: str | Toy2D | Mixture, n: int) -> Callable[[jax.Array], jax.Array]:
    """``sample_real(key) -> [n, 2]``: batches of ``n`` points of a 2D set (a name or your own mixture), for a GAN
    step that draws its own data. One object per ``(data, n)``, so a jitted step that takes it as a static argument
    compiles once."""
    return functools.partial(toy2d(data).sample, n=n)
