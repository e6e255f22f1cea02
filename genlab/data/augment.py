"""Image augmentation as plain functions of an explicit key (NHWC in [-1, 1])."""

from __future__ import annotations

import jax
import jax.numpy as jnp


def random_shift(x: jax.Array, key: jax.Array, max_shift: int) -> jax.Array:
    """Translate each image of ``x: [B, H, W, C]`` by up to ±max_shift pixels, filling with -1 (black)."""
    if max_shift == 0:
        return x
    b, h, w, _ = x.shape
    padded = jnp.pad(x, ((0, 0), (max_shift, max_shift), (max_shift, max_shift), (0, 0)), constant_values=-1.0)
    offsets = jax.random.randint(key, (b, 2), 0, 2 * max_shift + 1)  # [B, 2]

    def crop(img, off):
        return jax.lax.dynamic_slice(img, (off[0], off[1], 0), (h, w, img.shape[-1]))

    return jax.vmap(crop)(padded, offsets)


def random_flip(x: jax.Array, key: jax.Array) -> jax.Array:
    """Mirror each image of ``x: [B, H, W, C]`` left-right with probability 1/2."""
    flip = jax.random.bernoulli(key, 0.5, (x.shape[0], 1, 1, 1))
    return jnp.where(flip, x[:, :, ::-1, :], x)


def augment(x: jax.Array, key: jax.Array, *, max_shift: int = 2, flip: bool = True) -> jax.Array:
    """Random shift then (optionally) random flip of ``x: [B, H, W, C]``."""
    k_shift, k_flip = jax.random.split(key)
    x = random_shift(x, k_shift, max_shift)
    return random_flip(x, k_flip) if flip else x
