"""Affine probability paths ``x_t = a_t x1 + b_t x0`` (flow-matching convention: x0 ~ N(0, I) noise at t = 0,
x1 data at t = 1), and conversions between what a network can predict on such a path.

Paths (Lipman et al. 2023, sec. 4; Albergo & Vanden-Eijnden 2023):

- ``ot``:     a = t, b = 1 − t (conditional optimal transport / rectified flow; dx_t = x1 − x0);
- ``cosine``: a = sin(πt/2), b = cos(πt/2) (the cosine diffusion path written as a flow; a² + b² = 1);
- ``vp``:     a = exp(−T(1 − t)/2), b = √(1 − a²), T(s) = β_min s + (β_max − β_min) s²/2 (the VP-SDE of
  Song et al. 2021 with diffusion time s = 1 − t; β ∈ [0.1, 20] is DDPM's linear β ∈ [1e-4, 0.02] × 1000).

A diffusion model's time runs the other way: diffusion time s = 1 − t, √ᾱ(s) = a_t, √(1 − ᾱ(s)) = b_t.

Parameterisations, for one path and one point ``x_t`` (shapes ``[B, ...]``, ``t: [B]`` or scalar):

- ``velocity``: v = ȧ x1 + ḃ x0 (what flow matching regresses);
- ``eps``:      the noise x0 (a diffusion model's ε-prediction);
- ``data``:     the data x1 (a diffusion model's "x0-prediction"; named ``data`` here to avoid the clash);
- ``score``:    ∇ log p_t(x_t) = −E[x0 | x_t] / b (Tweedie; Gaussian noise).

Any of them determines the others through (data, eps): x_t = a·data + b·eps, v = ȧ·data + ḃ·eps.
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import jax
import jax.numpy as jnp

PATHS = ("ot", "cosine", "vp")
PARAMETERISATIONS = ("velocity", "eps", "data", "score")


class PathCoeffs(NamedTuple):
    """The path's coefficients at time t, each shaped like ``t``."""

    a: jax.Array  # weight of the data x1
    b: jax.Array  # weight of the noise x0
    da: jax.Array  # ȧ = da/dt
    db: jax.Array  # ḃ = db/dt


@dataclasses.dataclass(frozen=True)
class AffinePath:
    """``x_t = a_t x1 + b_t x0``; ``kind`` is one of :data:`PATHS`. Hashable: it can be a static argument."""

    kind: str = "ot"
    beta_min: float = 0.1  # vp only
    beta_max: float = 20.0  # vp only

    def __post_init__(self):
        if self.kind not in PATHS:
            raise ValueError(f"unknown path {self.kind!r}: choose one of {', '.join(PATHS)}")

    def coeffs(self, t) -> PathCoeffs:
        """``(a, b, ȧ, ḃ)`` at ``t`` (any shape)."""
        t = jnp.asarray(t)
        if self.kind == "ot":
            return PathCoeffs(t, 1.0 - t, jnp.ones_like(t), -jnp.ones_like(t))
        if self.kind == "cosine":
            h = 0.5 * jnp.pi
            return PathCoeffs(jnp.sin(h * t), jnp.cos(h * t), h * jnp.cos(h * t), -h * jnp.sin(h * t))
        s = 1.0 - t  # diffusion time
        integral = self.beta_min * s + 0.5 * (self.beta_max - self.beta_min) * s**2  # T(s) = ∫₀ˢ β
        beta = self.beta_min + (self.beta_max - self.beta_min) * s  # β(s) = T'(s)
        a = jnp.exp(-0.5 * integral)
        da = 0.5 * beta * a  # d/dt = −d/ds
        b = jnp.sqrt(jnp.maximum(1.0 - a**2, 0.0))
        db = -a * da / jnp.maximum(b, 1e-12)
        return PathCoeffs(a, b, da, db)

    def sample(self, x0: jax.Array, x1: jax.Array, t: jax.Array) -> tuple[jax.Array, jax.Array]:
        """``x0, x1: [B, ...]``, ``t: [B]`` -> ``(x_t, dx_t)``, both ``[B, ...]``: the point on the conditional
        path and its time derivative ȧ x1 + ḃ x0, the flow-matching target (``x1 − x0`` on the OT path)."""
        a, b, da, db = (_expand(c, x1) for c in self.coeffs(t))
        return a * x1 + b * x0, da * x1 + db * x0


def _expand(c: jax.Array, like: jax.Array) -> jax.Array:
    """A per-example ``[B]`` (or scalar) coefficient broadcast against ``like: [B, ...]``."""
    c = jnp.asarray(c, like.dtype)
    return c.reshape(c.shape + (1,) * (like.ndim - c.ndim)) if c.ndim else c


def to_data_eps(path: AffinePath, pred: jax.Array, x_t: jax.Array, t: jax.Array, kind: str):
    """``(data, eps)`` implied by a prediction ``pred`` of ``kind`` at ``(x_t, t)``.

    velocity: solve [x_t; v] = [[a, b], [ȧ, ḃ]] [data; eps] (determinant aḃ − bȧ ≠ 0 on every path here);
    eps: data = (x_t − b eps) / a (undefined at a = 0); data: eps = (x_t − a data) / b (undefined at b = 0);
    score: eps = −b · score.
    """
    a, b, da, db = (_expand(c, x_t) for c in path.coeffs(t))
    if kind == "velocity":
        det = a * db - b * da
        return (db * x_t - b * pred) / det, (a * pred - da * x_t) / det
    if kind == "score":
        kind, pred = "eps", -b * pred
    if kind == "eps":
        return (x_t - b * pred) / a, pred
    if kind == "data":
        return pred, (x_t - a * pred) / b
    raise ValueError(f"unknown parameterisation {kind!r}: choose one of {', '.join(PARAMETERISATIONS)}")


def convert(path: AffinePath, pred: jax.Array, x_t: jax.Array, t: jax.Array, src: str, dst: str) -> jax.Array:
    """Turn a prediction of kind ``src`` into kind ``dst`` (both in :data:`PARAMETERISATIONS`).

    ``convert(path, eps_hat, x_t, t, "eps", "velocity")`` samples a diffusion model as an ODE;
    ``convert(path, v_hat, x_t, t, "velocity", "data")`` uses a flow model as a denoiser.
    """
    if dst not in PARAMETERISATIONS:
        raise ValueError(f"unknown parameterisation {dst!r}: choose one of {', '.join(PARAMETERISATIONS)}")
    if src == dst:
        return pred
    data, eps = to_data_eps(path, pred, x_t, t, src)
    a, b, da, db = (_expand(c, x_t) for c in path.coeffs(t))
    if dst == "velocity":
        return da * data + db * eps
    if dst == "data":
        return data
    if dst == "eps":
        return eps
    return -eps / b  # score
