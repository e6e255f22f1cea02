"""Convolutional building blocks shared by the U-Net and the VAE.

``timestep_embedding`` (sinusoidal features of the time), ``TimeEmbedding`` (those features through an
MLP), ``ResBlock`` (two 3x3 convolutions with a residual path, optionally shifted by the time
embedding), ``Downsample`` (stride-2 convolution) and ``Upsample`` (nearest x2 + convolution).
All images are NHWC.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from flax import nnx

TIME_SCALE = 1000.0  # float t in [0, 1] is multiplied by this, so it covers the same range as integer steps


def num_groups(channels: int, max_groups: int = 8) -> int:
    """The largest group count <= ``max_groups`` that divides ``channels`` (GroupNorm needs a divisor)."""
    return next(g for g in range(min(max_groups, channels), 0, -1) if channels % g == 0)


def timestep_embedding(t: jax.Array, dim: int, max_period: float = 10_000.0) -> jax.Array:
    """Sinusoidal features of the time (Vaswani et al. 2017, sec. 3.5; DDPM, Ho et al. 2020).

    t: [B] or scalar; an integer dtype is read as a step index (0, 1, ..., T-1), a float dtype as
        continuous time in [0, 1] (scaled by ``TIME_SCALE`` so both cover the same frequencies).
    Returns: [B, dim] float32 = [cos(t * w_k), sin(t * w_k)], w_k = max_period^(-k / (dim/2)).
    """
    if dim % 2:
        raise ValueError(f"time embedding dim must be even, got {dim}: pick an even time_dim")
    t = jnp.asarray(t)
    t = t.astype(jnp.float32) if jnp.issubdtype(t.dtype, jnp.integer) else t.astype(jnp.float32) * TIME_SCALE
    t = jnp.atleast_1d(t)  # [B]
    half = dim // 2
    freqs = jnp.exp(-math.log(max_period) * jnp.arange(half, dtype=jnp.float32) / half)  # [half]
    args = t[:, None] * freqs[None, :]  # [B, half]
    return jnp.concatenate([jnp.cos(args), jnp.sin(args)], axis=-1)  # [B, dim]


class TimeEmbedding(nnx.Module):
    """``t: [B]`` (float in [0, 1] or int steps) -> ``[B, dim]``: sinusoidal features, Linear, SiLU, Linear."""

    def __init__(self, dim: int, *, rngs: nnx.Rngs):
        self.dim = dim
        self.fc1 = nnx.Linear(dim, dim, rngs=rngs)
        self.fc2 = nnx.Linear(dim, dim, rngs=rngs)

    def __call__(self, t: jax.Array) -> jax.Array:
        return self.fc2(nnx.silu(self.fc1(timestep_embedding(t, self.dim))))


class ResBlock(nnx.Module):
    """GroupNorm-SiLU-Conv, add the projected time embedding, GroupNorm-SiLU-Conv, plus a residual path.

    ``x: [B, H, W, c_in]``, ``temb: [B, time_dim]`` or None -> ``[B, H, W, c_out]``.
    With ``time_dim=None`` the block takes no time (the VAE uses it so).
    """

    def __init__(self, c_in: int, c_out: int, *, time_dim: int | None = None, rngs: nnx.Rngs):
        self.norm1 = nnx.GroupNorm(c_in, num_groups=num_groups(c_in), rngs=rngs)
        self.conv1 = nnx.Conv(c_in, c_out, (3, 3), rngs=rngs)
        self.time_proj = nnx.Linear(time_dim, c_out, rngs=rngs) if time_dim else None
        self.norm2 = nnx.GroupNorm(c_out, num_groups=num_groups(c_out), rngs=rngs)
        self.conv2 = nnx.Conv(c_out, c_out, (3, 3), rngs=rngs)
        self.shortcut = nnx.Conv(c_in, c_out, (1, 1), rngs=rngs) if c_in != c_out else None

    def __call__(self, x: jax.Array, temb: jax.Array | None = None) -> jax.Array:
        h = self.conv1(nnx.silu(self.norm1(x)))
        if self.time_proj is not None:
            if temb is None:
                raise ValueError("this ResBlock was built with time_dim; pass the time embedding temb: [B, time_dim]")
            h = h + self.time_proj(nnx.silu(temb))[:, None, None, :]
        h = self.conv2(nnx.silu(self.norm2(h)))
        skip = x if self.shortcut is None else self.shortcut(x)
        return skip + h


class Downsample(nnx.Module):
    """Stride-2 3x3 convolution: ``[B, H, W, c_in] -> [B, ceil(H/2), ceil(W/2), c_out]``."""

    def __init__(self, c_in: int, c_out: int | None = None, *, rngs: nnx.Rngs):
        self.conv = nnx.Conv(c_in, c_out or c_in, (3, 3), strides=(2, 2), rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        return self.conv(x)


class Upsample(nnx.Module):
    """Nearest-neighbour x2 then a 3x3 convolution: ``[B, H, W, c_in] -> [B, 2H, 2W, c_out]``."""

    def __init__(self, c_in: int, c_out: int | None = None, *, rngs: nnx.Rngs):
        self.conv = nnx.Conv(c_in, c_out or c_in, (3, 3), rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        x = jnp.repeat(jnp.repeat(x, 2, axis=1), 2, axis=2)
        return self.conv(x)
