"""GAN sampling: x = G(z), z ~ N(0, I). The one GAN sampler for training callbacks, metrics, figures and labs.

``G`` follows the GAN contract of :mod:`genlab.models.gan`: ``G(z, label=None)`` with ``G.latent_dim``; a
class-conditional generator has ``G.num_classes > 0``.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
from flax import nnx


def generate(G, key: jax.Array, n: int, label: jax.Array | None = None) -> jax.Array:
    """n samples ``G(z[, label])``, ``z ~ N(0, I)``: ``[n, ...]``. Traceable (call it inside jit or eagerly)."""
    z = jax.random.normal(key, (n, G.latent_dim))  # [n, latent_dim]
    return G(z, label) if label is not None else G(z)


def balanced_labels(n: int, num_classes: int) -> jax.Array:
    """``[n]`` int labels ``0, 1, ..., K-1, 0, 1, ...``: every class equally often (up to one)."""
    return jnp.arange(n) % num_classes


@functools.partial(nnx.jit, static_argnames="n")
def sample(G, key: jax.Array, n: int) -> jax.Array:
    """n samples of G, compiled: ``[n, ...]``. A class-conditional G gets :func:`balanced_labels`."""
    num_classes = getattr(G, "num_classes", 0)
    return generate(G, key, n, balanced_labels(n, num_classes) if num_classes else None)
