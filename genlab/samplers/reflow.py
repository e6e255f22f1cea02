"""Reflow (Liu, Gong & Liu 2022, "Flow straight and fast", ICLR 2023): pairs from a trained flow, and straightness.

k-rectified flow → draw noise Z0 → simulate Z1 = ODE(Z0) → train the (k+1)-rectified flow on the pairs
(Z0, Z1) with the straight (OT) path. Rectification never increases the transport cost and makes the paths
straighter, which is what lets one Euler step work.

Straightness (Liu et al. 2022, eq. 5): S(Z) = ∫₀¹ E ‖(Z1 − Z0) − Ż_t‖² dt, 0 for straight lines travelled at
constant speed. Estimated on a simulated trajectory with the chord of each step as Ż_t (exactly the field
value for Euler) and the uniform grid as the quadrature.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
from flax import nnx

from genlab.samplers.ode import model_field, odeint


def straightness(xs: jax.Array, ts: jax.Array) -> jax.Array:
    """``xs: [N + 1, B, ...]`` states on the grid ``ts: [N + 1]`` -> S (scalar), per-example mean of the squares."""
    h = (ts[1:] - ts[:-1]).reshape((-1,) + (1,) * (xs.ndim - 1))  # [N, 1, ...]
    chords = (xs[1:] - xs[:-1]) / h  # [N, B, ...] Ż on each step
    total = (xs[-1] - xs[0]) / (ts[-1] - ts[0])  # [B, ...] (Z1 − Z0) per unit time
    sq = jnp.sum(((total[None] - chords) ** 2).reshape(chords.shape[0], chords.shape[1], -1), axis=-1)  # [N, B]
    weights = (ts[1:] - ts[:-1]) / (ts[-1] - ts[0])  # [N]
    return jnp.sum(weights * jnp.mean(sq, axis=1))


def field_straightness(field, x0: jax.Array, *, method: str = "euler", steps: int = 100) -> jax.Array:
    """S of the flow ``field`` started from noise ``x0: [B, ...]``, on a ``steps``-step trajectory."""
    sol = odeint(field, x0, method=method, steps=steps, trajectory=True)
    return straightness(sol.xs, sol.ts)


def pairs_from_field(field, key: jax.Array, shape: tuple[int, ...], *, method: str = "rk4", steps: int = 50):
    """Reflow pairs ``(x0, x1)``, each ``[n, ...]`` for ``shape = (n, ...)``: x0 ~ N(0, I) from ``key``,
    x1 = ODE(x0). Deterministic in the key."""
    x0 = jax.random.normal(key, shape)
    return x0, odeint(field, x0, method=method, steps=steps).x


@functools.partial(nnx.jit, static_argnames=("shape", "method", "steps"))
def reflow_pairs(model, key: jax.Array, shape: tuple[int, ...], *, method: str = "rk4", steps: int = 50):
    """:func:`pairs_from_field` for an (unconditional) NNX flow model, compiled."""
    return pairs_from_field(model_field(model), key, shape, method=method, steps=steps)


@functools.partial(nnx.jit, static_argnames=("method", "steps"))
def model_straightness(model, x0: jax.Array, *, method: str = "euler", steps: int = 100) -> jax.Array:
    """:func:`field_straightness` of an NNX flow model, compiled."""
    return field_straightness(model_field(model), x0, method=method, steps=steps)
