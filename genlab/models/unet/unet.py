"""The U-Net (Ronneberger et al. 2015) as diffusion models use it (Ho et al. 2020; Rombach et al. 2022).

    x ─ conv_in ─ level 0 ──────────────────────────── skip 0 ──► level 0 ─ conv_out ─► out
                     └ down ─ level 1 ──────────── skip 1 ──► level 1 ┘ up
                                └ down ─ ... level L-1 ─ skip L-1 ─► level L-1 ┘ up
                                                └── bottleneck ──┘

The encoder (left) shrinks the image level by level and extracts context; the bottleneck works at the
smallest size; the decoder (right) rebuilds the image, each level concatenating the encoder's features
of the same size (the skip connections, which carry fine detail past the bottleneck). Every ResBlock
gets the time embedding; SpatialTransformer blocks (self-attention, and cross-attention to a condition
``[B, L, cond_dim]`` when ``cond_dim`` is set) sit at the levels in ``attn_levels`` and in the bottleneck.

Sizes: level i works at ``size / 2**i``. Inputs whose height or width is not a multiple of
``2**(levels-1)`` are zero-padded at the bottom/right and the output is cropped back, so 28x28 pixels
(28 -> 14 -> 7) and 7x7 latents (7 -> pad 8 -> 4 -> 2) go through the same code.

``skip=False`` (the ablation) feeds the decoder zeros of the same shape in place of each skip tensor:
the decoder and the parameter count are unchanged, and the only path from input to output is the
bottleneck. The model holds no schedule: ``t`` is just a number per example.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
from flax import nnx

from genlab.models.layers.attention import SpatialTransformer
from genlab.models.layers.blocks import Downsample, ResBlock, TimeEmbedding, Upsample, num_groups


@dataclasses.dataclass(frozen=True)
class UNetConfig:
    """Architecture of a :class:`UNet`. Presets are for 28x28x1 pixels; set ``in_channels`` for latents."""

    in_channels: int = 1
    out_channels: int | None = None  # None: same as in_channels
    channels: tuple[int, ...] = (32, 64, 128)  # width per level; level i works at size / 2**i
    blocks_per_level: int = 1  # ResBlocks per level in the encoder (and in the decoder)
    attn_levels: tuple[int, ...] = ()  # levels with a SpatialTransformer after each ResBlock
    mid_attention: bool = True  # a SpatialTransformer in the bottleneck
    cond_dim: int | None = None  # width of condition vectors for cross-attention; None: no cross-attention
    num_heads: int = 4
    time_dim: int = 128  # width of the time embedding (even)
    skip: bool = True  # False: the decoder gets zeros instead of the encoder's features (ablation)

    def __post_init__(self):
        if not self.channels:
            raise ValueError("UNetConfig.channels is empty: give at least one level, e.g. (32, 64)")
        if self.blocks_per_level < 1:
            raise ValueError(f"blocks_per_level must be >= 1, got {self.blocks_per_level}")
        bad = [i for i in self.attn_levels if not 0 <= i < len(self.channels)]
        if bad:
            raise ValueError(f"attn_levels {bad} out of range: levels are 0..{len(self.channels) - 1}")
        if self.cond_dim and not (self.attn_levels or self.mid_attention):
            raise ValueError("cond_dim is set but there is no attention block to use it: "
                             "set mid_attention=True or some attn_levels")

    @property
    def levels(self) -> int:
        return len(self.channels)

    @classmethod
    def tiny(cls) -> UNetConfig:
        return cls(channels=(8, 16), time_dim=16, num_heads=2)

    @classmethod
    def cpu(cls) -> UNetConfig:
        return cls(channels=(16, 32, 64), time_dim=64)

    @classmethod
    def gpu(cls) -> UNetConfig:
        return cls(channels=(64, 128, 256), blocks_per_level=2, attn_levels=(2,), time_dim=256, num_heads=8)


class _EncoderLevel(nnx.Module):
    """ResBlocks (and attention) at width ``c``, then a halving to width ``c_next`` (None: the last level)."""

    def __init__(self, c: int, c_next: int | None, config: UNetConfig, *, attention: bool, rngs: nnx.Rngs):
        n = config.blocks_per_level
        self.blocks = nnx.List([ResBlock(c, c, time_dim=config.time_dim, rngs=rngs) for _ in range(n)])
        self.attns = nnx.List([SpatialTransformer(c, cond_dim=config.cond_dim, num_heads=config.num_heads, rngs=rngs)
                               for _ in range(n if attention else 0)])
        self.down = Downsample(c, c_next, rngs=rngs) if c_next else None


class _DecoderLevel(nnx.Module):
    """A doubling from width ``c_below`` (None: the last level), concatenation with the skip, ResBlocks."""

    def __init__(self, c_below: int | None, c: int, config: UNetConfig, *, attention: bool, rngs: nnx.Rngs):
        n = config.blocks_per_level
        self.up = Upsample(c_below, c, rngs=rngs) if c_below else None
        self.blocks = nnx.List([ResBlock(2 * c if j == 0 else c, c, time_dim=config.time_dim, rngs=rngs)
                                for j in range(n)])
        self.attns = nnx.List([SpatialTransformer(c, cond_dim=config.cond_dim, num_heads=config.num_heads, rngs=rngs)
                               for _ in range(n if attention else 0)])


def _run_level(level, h, temb, cond, cond_mask):
    for j, block in enumerate(level.blocks):
        h = block(h, temb)
        if len(level.attns):
            h = level.attns[j](h, cond, cond_mask)
    return h


class UNet(nnx.Module):
    """``UNet(config, rngs=...)(x, t, cond=None, cond_mask=None) -> [B, H, W, out_channels]``.

    x: [B, H, W, in_channels] (any H, W); t: [B] or scalar, float in [0, 1] or integer steps;
    cond: [B, L, cond_dim] condition vectors (needs ``config.cond_dim``); cond_mask: [B, L] bool, True = use.
    """

    def __init__(self, config: UNetConfig, *, rngs: nnx.Rngs):
        self.config = config
        chs, last = config.channels, config.levels - 1
        self.time_embed = TimeEmbedding(config.time_dim, rngs=rngs)
        self.conv_in = nnx.Conv(config.in_channels, chs[0], (3, 3), rngs=rngs)
        self.encoder = nnx.List([
            _EncoderLevel(c, chs[i + 1] if i < last else None, config, attention=i in config.attn_levels, rngs=rngs)
            for i, c in enumerate(chs)
        ])
        self.mid1 = ResBlock(chs[-1], chs[-1], time_dim=config.time_dim, rngs=rngs)
        self.mid_attn = (SpatialTransformer(chs[-1], cond_dim=config.cond_dim, num_heads=config.num_heads, rngs=rngs)
                         if config.mid_attention else None)
        self.mid2 = ResBlock(chs[-1], chs[-1], time_dim=config.time_dim, rngs=rngs)
        self.decoder = nnx.List([  # decoder[i] rebuilds level i; run from the bottom (i = last) up
            _DecoderLevel(chs[i + 1] if i < last else None, c, config, attention=i in config.attn_levels, rngs=rngs)
            for i, c in enumerate(chs)
        ])
        self.norm_out = nnx.GroupNorm(chs[0], num_groups=num_groups(chs[0]), rngs=rngs)
        self.conv_out = nnx.Conv(chs[0], config.out_channels or config.in_channels, (3, 3), rngs=rngs)

    def pad_multiple(self) -> int:
        """Height and width are padded to a multiple of this (``2**(levels-1)``)."""
        return 2 ** (self.config.levels - 1)

    def embed_time(self, t: jax.Array, batch: int) -> jax.Array:
        """``t: [B]`` or scalar -> ``temb: [B, time_dim]``."""
        t = jnp.asarray(t)
        return self.time_embed(jnp.broadcast_to(t, (batch,)) if t.ndim == 0 else t)

    def encode(self, x, temb, cond=None, cond_mask=None) -> tuple[jax.Array, list[jax.Array]]:
        """Padded ``x: [B, H, W, C_in]`` -> (bottleneck ``[B, H/2^(L-1), W/2^(L-1), channels[-1]]``,
        skips: list of L tensors, ``skips[i]: [B, H/2^i, W/2^i, channels[i]]``)."""
        h, skips = self.conv_in(x), []
        for level in self.encoder:
            h = _run_level(level, h, temb, cond, cond_mask)
            skips.append(h)
            if level.down is not None:
                h = level.down(h)
        h = self.mid1(h, temb)
        if self.mid_attn is not None:
            h = self.mid_attn(h, cond, cond_mask)
        return self.mid2(h, temb), skips

    def decode(self, h, skips, temb, cond=None, cond_mask=None) -> jax.Array:
        """Bottleneck ``h`` and the encoder's ``skips`` -> ``[B, H, W, out_channels]`` (padded size).
        With ``config.skip=False`` the values of ``skips`` are not used, only their shapes."""
        for i in reversed(range(self.config.levels)):
            level = self.decoder[i]
            if level.up is not None:
                h = level.up(h)
            s = skips[i] if self.config.skip else jnp.zeros_like(skips[i])
            h = _run_level(level, jnp.concatenate([h, s], axis=-1), temb, cond, cond_mask)
        return self.conv_out(nnx.silu(self.norm_out(h)))

    def __call__(self, x: jax.Array, t: jax.Array, cond: jax.Array | None = None,
                 cond_mask: jax.Array | None = None) -> jax.Array:
        if x.ndim != 4 or x.shape[-1] != self.config.in_channels:
            raise ValueError(f"UNet expects x: [B, H, W, {self.config.in_channels}] (NHWC), got shape {x.shape}")
        if cond is not None and not self.config.cond_dim:
            raise ValueError("a condition was passed, but this U-Net has no cross-attention: build it with cond_dim")
        if cond is not None and (cond.ndim != 3 or cond.shape[0] != x.shape[0]):
            raise ValueError(f"cond must be [B, L, cond_dim] with B={x.shape[0]}, got shape {cond.shape}")
        b, hgt, wid, _ = x.shape
        m = self.pad_multiple()
        ph, pw = -hgt % m, -wid % m
        if ph or pw:
            x = jnp.pad(x, ((0, 0), (0, ph), (0, pw), (0, 0)))
        temb = self.embed_time(t, b)
        h, skips = self.encode(x, temb, cond, cond_mask)
        return self.decode(h, skips, temb, cond, cond_mask)[:, :hgt, :wid, :]
