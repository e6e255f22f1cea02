"""Minibatch statistics as a feature: lets a discriminator see a collapsed batch."""

from __future__ import annotations

import jax
import jax.numpy as jnp


def minibatch_stddev(h: jax.Array) -> jax.Array:
    """Minibatch standard deviation (Karras et al. 2018, §3): append the batch's mean std as one feature.

    h: [B, ..., F] -> [B, ..., F + 1]. A collapsed batch has std ≈ 0, which D can then see.
    """
    std = jnp.sqrt(jnp.var(h, axis=0) + 1e-8)  # [..., F]
    feature = jnp.broadcast_to(jnp.mean(std), h.shape[:-1] + (1,))
    return jnp.concatenate([h, feature], axis=-1)
