"""Log-likelihood of a flow by the instantaneous change of variables (Chen et al. 2018; FFJORD, Grathwohl 2019).

Along a trajectory of dx/dt = v(x, t), d/dt log p_t(x_t) = −div v(x_t, t). Integrating the augmented state
(x, ℓ) with dℓ/dt = div v backwards from the data x1 at t = 1 (ℓ = 0) to t = 0 gives

    log p_1(x1) = log N(x(0); 0, I) + ℓ(0).

The divergence is exact (``exact``: d Jacobian-vector products, for 2D and other small d) or Hutchinson's
unbiased estimate εᵀ (∂v/∂x) ε with Rademacher ε held fixed along the trajectory (``hutchinson``, images).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp

from genlab.samplers.ode import odeint

DIVERGENCES = ("exact", "hutchinson")


def exact_divergence(field, x: jax.Array, t) -> tuple[jax.Array, jax.Array]:
    """``x: [B, ...]`` -> ``(v: [B, ...], div: [B])`` with div = tr ∂v/∂x per example (one JVP per dimension).

    The field must act on each example independently (no batch statistics)."""
    v, jvp = jax.linearize(lambda y: field(y, t), x)
    flat_dim = math.prod(x.shape[1:])
    div = jnp.zeros(x.shape[0], v.dtype)
    for i in range(flat_dim):  # d is small here: 2 in the 2D experiments
        e = jnp.zeros((flat_dim,), x.dtype).at[i].set(1.0)
        e = jnp.broadcast_to(e.reshape(x.shape[1:]), x.shape)
        div = div + jvp(e).reshape(x.shape[0], -1)[:, i]
    return v, div


def hutchinson_divergence(field, x: jax.Array, t, eps: jax.Array) -> tuple[jax.Array, jax.Array]:
    """``(v, εᵀ (∂v/∂x) ε)`` per example for a probe ``eps`` shaped like ``x`` (one JVP)."""
    v, jv = jax.jvp(lambda y: field(y, t), (x,), (eps,))
    return v, jnp.sum((eps * jv).reshape(x.shape[0], -1), axis=1)


class LogLikelihood(NamedTuple):
    log_prob: jax.Array  # [B] log p_1(x1), nats
    x0: jax.Array  # [B, ...] the noise the data maps back to
    nfe: int  # evaluations of the augmented field (each: one v and its divergence)


def log_likelihood(field, x1: jax.Array, *, method: str = "rk4", steps: int = 100, divergence: str = "exact",
                   key: jax.Array | None = None) -> LogLikelihood:
    """``log p_1(x1)`` of the flow ``field`` for data ``x1: [B, ...]`` (integrated from t = 1 back to t = 0)."""
    if divergence not in DIVERGENCES:
        raise ValueError(f"unknown divergence {divergence!r}: choose one of {', '.join(DIVERGENCES)}")
    if divergence == "hutchinson":
        if key is None:
            raise ValueError("the Hutchinson estimator needs a key for its probe")
        eps = jax.random.rademacher(key, x1.shape, x1.dtype)

        def augmented(state, t):
            return hutchinson_divergence(field, state[0], t, eps)
    else:
        def augmented(state, t):
            return exact_divergence(field, state[0], t)

    start = (x1, jnp.zeros(x1.shape[0], x1.dtype))
    sol = odeint(augmented, start, method=method, steps=steps, t0=1.0, t1=0.0)
    x0, ell = sol.x
    d = math.prod(x1.shape[1:])
    log_p0 = -0.5 * jnp.sum(x0.reshape(x0.shape[0], -1) ** 2, axis=1) - 0.5 * d * math.log(2.0 * math.pi)
    return LogLikelihood(log_p0 + ell, x0, sol.nfe)
