"""Exact (oracle) marginal velocity, score and posterior mean for Gaussian-mixture data on any affine path.

Data x1 ~ Σ_k π_k N(μ_k, σ_k² I) in d dimensions, noise x0 ~ N(0, I), path x_t = a x1 + b x0
(shared/REFERENCES.md, "Exact oracles"). Given component k, x_t ~ N(a μ_k, s_k² I) with s_k² = a² σ_k² + b², so

    w_k(x, t) = softmax_k [ log π_k − (d/2) log s_k² − ‖x − a μ_k‖² / (2 s_k²) ]       (posterior of k)
    E[x1 | x_t = x] = Σ_k w_k [ μ_k + (a σ_k² / s_k²) (x − a μ_k) ]
    u(x, t) = Σ_k w_k [ ȧ μ_k + ((a ȧ σ_k² + b ḃ) / s_k²) (x − a μ_k) ]                (marginal velocity)
    ∇ log p_t(x) = − Σ_k w_k (x − a μ_k) / s_k²

The empirical distribution of a data set is the mixture with σ_k = 0 (:meth:`GaussianMixture.empirical`);
its field memorises the points (defined for t < 1). Everything is computed through ``[B, K]`` matrices,
never ``[B, K, d]``, so K can be thousands of points.
"""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np

from genlab.paths.affine import AffinePath

_MIN_VAR = 1e-20  # floor on s_k², reached only by a σ = 0 mixture exactly at the data end (b = 0)


@dataclasses.dataclass(frozen=True, eq=False)
class GaussianMixture:
    """Σ_k π_k N(μ_k, σ_k² I). Arrays are NumPy (converted inside the functions, never at import)."""

    means: np.ndarray  # [K, d] μ_k
    sigmas: np.ndarray  # [K] σ_k (0 for point masses)
    log_weights: np.ndarray  # [K] log π_k, normalised

    @classmethod
    def isotropic(cls, means, sigma: float, weights=None) -> GaussianMixture:
        """Components with one common σ and weights ``weights`` (default uniform)."""
        means = np.asarray(means, np.float64)
        w = np.full(len(means), 1.0 / len(means)) if weights is None else np.asarray(weights, np.float64)
        return cls(means, np.full(len(means), float(sigma)), np.log(w / w.sum()))

    @classmethod
    def empirical(cls, points) -> GaussianMixture:
        """The empirical distribution of ``points: [N, d]`` (σ → 0)."""
        return cls.isotropic(points, 0.0)

    @property
    def dim(self) -> int:
        return int(self.means.shape[1])

    def scaled(self, factor: float) -> GaussianMixture:
        """The mixture of x / factor (how data is normalised for the network)."""
        return GaussianMixture(self.means / factor, self.sigmas / factor, self.log_weights)

    def sample(self, key: jax.Array, n: int) -> jax.Array:
        """``[n, d]`` float32 draws."""
        k_comp, k_noise = jax.random.split(key)
        idx = jax.random.categorical(k_comp, jnp.asarray(self.log_weights, jnp.float32), shape=(n,))
        means = jnp.asarray(self.means, jnp.float32)[idx]
        sigmas = jnp.asarray(self.sigmas, jnp.float32)[idx, None]
        return means + sigmas * jax.random.normal(k_noise, (n, self.dim))


def _terms(mix: GaussianMixture, path: AffinePath, x: jax.Array, t):
    """Per-component quantities at ``x: [B, d]``, ``t: [B]`` or scalar: logits [B, K], s² [B, K], coeffs [B, 1]."""
    dtype = x.dtype
    mu = jnp.asarray(mix.means, dtype)  # [K, d]
    sig2 = jnp.asarray(mix.sigmas, dtype) ** 2  # [K]
    logpi = jnp.asarray(mix.log_weights, dtype)  # [K]
    t = jnp.broadcast_to(jnp.asarray(t, dtype), x.shape[:1])  # [B]
    a, b, da, db = (c[:, None] for c in path.coeffs(t))  # [B, 1] each
    s2 = jnp.maximum(a**2 * sig2[None, :] + b**2, _MIN_VAR)  # [B, K]
    sq = jnp.sum(x**2, 1)[:, None] - 2.0 * a * (x @ mu.T) + a**2 * jnp.sum(mu**2, 1)[None, :]  # ‖x − aμ_k‖² [B, K]
    sq = jnp.maximum(sq, 0.0)
    logits = logpi[None, :] - 0.5 * mix.dim * jnp.log(s2) - 0.5 * sq / s2  # [B, K]
    return logits, s2, sig2, mu, (a, b, da, db)


def _weighted(w: jax.Array, c: jax.Array, x: jax.Array, a: jax.Array, mu: jax.Array) -> jax.Array:
    """Σ_k w_k c_k (x − a μ_k) for ``w, c: [B, K]``, ``x: [B, d]`` -> ``[B, d]``."""
    wc = w * c
    return jnp.sum(wc, 1, keepdims=True) * x - a * (wc @ mu)


def posterior_weights(mix: GaussianMixture, path: AffinePath, x: jax.Array, t) -> jax.Array:
    """``[B, K]``: P(component k | x_t = x)."""
    return jax.nn.softmax(_terms(mix, path, x, t)[0], axis=1)


def velocity(mix: GaussianMixture, path: AffinePath, x: jax.Array, t) -> jax.Array:
    """The marginal velocity u(x, t) = E[ȧ x1 + ḃ x0 | x_t = x]: ``x: [B, d]``, ``t: [B]`` or scalar -> ``[B, d]``."""
    logits, s2, sig2, mu, (a, b, da, db) = _terms(mix, path, x, t)
    w = jax.nn.softmax(logits, axis=1)
    c = (a * da * sig2[None, :] + b * db) / s2  # [B, K]
    return da * (w @ mu) + _weighted(w, c, x, a, mu)


def score(mix: GaussianMixture, path: AffinePath, x: jax.Array, t) -> jax.Array:
    """∇ log p_t(x): ``[B, d]``."""
    logits, s2, _, mu, (a, *_) = _terms(mix, path, x, t)
    return -_weighted(jax.nn.softmax(logits, axis=1), 1.0 / s2, x, a, mu)


def posterior_mean(mix: GaussianMixture, path: AffinePath, x: jax.Array, t) -> jax.Array:
    """E[x1 | x_t = x] (the optimal denoiser, Tweedie): ``[B, d]``."""
    logits, s2, sig2, mu, (a, *_) = _terms(mix, path, x, t)
    w = jax.nn.softmax(logits, axis=1)
    return w @ mu + _weighted(w, a * sig2[None, :] / s2, x, a, mu)


def log_prob_t(mix: GaussianMixture, path: AffinePath, x: jax.Array, t) -> jax.Array:
    """log p_t(x), the density of x_t: ``[B]``. At the data end (b = 0) this is the mixture's own density."""
    logits = _terms(mix, path, x, t)[0]
    return jax.scipy.special.logsumexp(logits, axis=1) - 0.5 * mix.dim * math.log(2.0 * math.pi)


def log_prob(mix: GaussianMixture, x: jax.Array) -> jax.Array:
    """log of the mixture density at ``x: [B, d]`` -> ``[B]`` (needs every σ_k > 0)."""
    return log_prob_t(mix, AffinePath("ot"), x, 1.0)


def field(mix: GaussianMixture, path: AffinePath):
    """The oracle as an ODE field ``(x: [B, d], t) -> [B, d]`` (the "perfect model" of every table)."""
    return lambda x, t: velocity(mix, path, x, t)
