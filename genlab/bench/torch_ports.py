"""genlab's U-Net and 2D MLP field written again in PyTorch, layer for layer, and the copy of JAX weights into them.

The benchmark compares the same architecture in two frameworks, so these ports follow
``genlab.models.unet``, ``genlab.models.layers`` and ``genlab.models.mlp_field`` exactly: the same layers in the
same order, the same attribute names (``encoder.0.blocks.0.conv1`` here is ``encoder[0].blocks[0].conv1`` there),
the same initialisation-independent maths (GroupNorm and LayerNorm with eps 1e-6 as Flax, tanh-GELU as
``jax.nn.gelu``, "SAME" padding of a stride-2 convolution as XLA: one row/column more at the bottom/right,
sinusoidal time features with float t scaled by 1000). The layout is PyTorch's own, NCHW; the tensors cross
over as NHWC and are permuted once at the edges, so the two take and return the same arrays.

:func:`copy_weights` loads an NNX model's parameters into its port (kernels transposed), after which both give the
same outputs up to float32 rounding: what the sampling cross-check of ``genlab bench`` rests on.
This module imports torch; import it only when torch is installed (``genlab.bench.peers``).
"""

from __future__ import annotations

import math

import jax
import numpy as np
import torch
import torch.nn.functional as F
from flax import nnx
from torch import nn

from genlab.models.layers.blocks import TIME_SCALE, num_groups

EPS = 1e-6  # Flax's GroupNorm and LayerNorm epsilon (PyTorch's default is 1e-5)


def timestep_embedding(t: torch.Tensor, dim: int, max_period: float = 10_000.0) -> torch.Tensor:
    """``genlab.models.layers.blocks.timestep_embedding``: t [B] (int: steps, float: [0, 1]) -> [B, dim]."""
    t = t.float() if not t.is_floating_point() else t.float() * TIME_SCALE
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32) / half)
    args = t[:, None] * freqs[None, :]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)


class TimeEmbedding(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.dim = dim
        self.fc1, self.fc2 = nn.Linear(dim, dim), nn.Linear(dim, dim)

    def forward(self, t):
        return self.fc2(F.silu(self.fc1(timestep_embedding(t, self.dim))))


def conv3(c_in: int, c_out: int) -> nn.Conv2d:
    return nn.Conv2d(c_in, c_out, 3, padding=1)  # stride 1: "SAME" is symmetric


class ResBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, time_dim: int):
        super().__init__()
        self.norm1 = nn.GroupNorm(num_groups(c_in), c_in, eps=EPS)
        self.conv1 = conv3(c_in, c_out)
        self.time_proj = nn.Linear(time_dim, c_out)
        self.norm2 = nn.GroupNorm(num_groups(c_out), c_out, eps=EPS)
        self.conv2 = conv3(c_out, c_out)
        self.shortcut = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else None

    def forward(self, x, temb):
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.time_proj(F.silu(temb))[:, :, None, None]
        h = self.conv2(F.silu(self.norm2(h)))
        return (x if self.shortcut is None else self.shortcut(x)) + h


class Downsample(nn.Module):
    """Stride-2 3x3 convolution with XLA's "SAME" padding (the extra row/column at the bottom/right)."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, 3, stride=2)

    def forward(self, x):
        pads = []
        for size in (x.shape[3], x.shape[2]):  # F.pad: last axis first
            total = max((math.ceil(size / 2) - 1) * 2 + 3 - size, 0)
            pads += [total // 2, total - total // 2]
        return self.conv(F.pad(x, pads))


class Upsample(nn.Module):
    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.conv = conv3(c_in, c_out)

    def forward(self, x):
        return self.conv(F.interpolate(x, scale_factor=2, mode="nearest"))


class Attention(nn.Module):
    def __init__(self, dim: int, context_dim: int | None, num_heads: int):
        super().__init__()
        self.num_heads = num_heads
        kv = context_dim or dim
        self.q = nn.Linear(dim, dim, bias=False)
        self.k, self.v = nn.Linear(kv, dim, bias=False), nn.Linear(kv, dim, bias=False)
        self.out = nn.Linear(dim, dim)

    def forward(self, x, context=None, mask=None):
        context = x if context is None else context
        b, t, d = x.shape
        heads = lambda a: a.reshape(b, a.shape[1], self.num_heads, d // self.num_heads).transpose(1, 2)  # noqa: E731
        q, k, v = heads(self.q(x)), heads(self.k(context)), heads(self.v(context))  # [B, N, T|S, d/N]
        bias = None
        if mask is not None:  # additive, finite: an all-masked row stays finite (as in JAX) and is zeroed below
            bias = torch.zeros(mask.shape, dtype=x.dtype).masked_fill(~mask, torch.finfo(x.dtype).min)[:, None, None, :]
        h = F.scaled_dot_product_attention(q, k, v, attn_mask=bias)  # [B, N, T, d/N]
        h = self.out(h.transpose(1, 2).reshape(b, t, d))
        if mask is not None:
            h = h * mask.any(dim=-1)[:, None, None].to(h.dtype)
        return h


class SpatialTransformer(nn.Module):
    def __init__(self, channels: int, cond_dim: int | None, num_heads: int):
        super().__init__()
        self.norm_self = nn.LayerNorm(channels, eps=EPS)
        self.self_attn = Attention(channels, None, num_heads)
        if cond_dim:
            self.norm_cross = nn.LayerNorm(channels, eps=EPS)
            self.cross_attn = Attention(channels, cond_dim, num_heads)
        else:
            self.norm_cross = self.cross_attn = None
        self.norm_mlp = nn.LayerNorm(channels, eps=EPS)
        self.mlp_in, self.mlp_out = nn.Linear(channels, 4 * channels), nn.Linear(4 * channels, channels)

    def forward(self, x, cond=None, cond_mask=None):
        b, c, hgt, wid = x.shape
        h = x.flatten(2).transpose(1, 2)  # [B, HW, C]
        h = h + self.self_attn(self.norm_self(h))
        if cond is not None:
            h = h + self.cross_attn(self.norm_cross(h), cond, cond_mask)
        h = h + self.mlp_out(F.gelu(self.mlp_in(self.norm_mlp(h)), approximate="tanh"))
        return h.transpose(1, 2).reshape(b, c, hgt, wid)


class _Level(nn.Module):
    def __init__(self, c_block_in: int, c: int, config, attention: bool):
        super().__init__()
        n = config.blocks_per_level
        self.blocks = nn.ModuleList([ResBlock(c_block_in if j == 0 else c, c, config.time_dim) for j in range(n)])
        self.attns = nn.ModuleList([SpatialTransformer(c, config.cond_dim, config.num_heads)
                                    for _ in range(n if attention else 0)])

    def run(self, h, temb, cond, cond_mask):
        for j, block in enumerate(self.blocks):
            h = block(h, temb)
            if len(self.attns):
                h = self.attns[j](h, cond, cond_mask)
        return h


class TorchUNet(nn.Module):
    """``genlab.models.unet.UNet`` in PyTorch: ``(x [B, H, W, C] NHWC, t [B], cond, cond_mask) -> [B, H, W, C]``."""

    def __init__(self, config):
        super().__init__()
        self.config = config
        chs, last = config.channels, len(config.channels) - 1
        self.time_embed = TimeEmbedding(config.time_dim)
        self.conv_in = conv3(config.in_channels, chs[0])
        self.encoder = nn.ModuleList()
        for i, c in enumerate(chs):
            level = _Level(c, c, config, i in config.attn_levels)
            level.down = Downsample(c, chs[i + 1]) if i < last else None
            self.encoder.append(level)
        self.mid1 = ResBlock(chs[-1], chs[-1], config.time_dim)
        self.mid_attn = SpatialTransformer(chs[-1], config.cond_dim, config.num_heads) if config.mid_attention else None
        self.mid2 = ResBlock(chs[-1], chs[-1], config.time_dim)
        self.decoder = nn.ModuleList()
        for i, c in enumerate(chs):
            level = _Level(2 * c, c, config, i in config.attn_levels)
            level.up = Upsample(chs[i + 1], c) if i < last else None
            self.decoder.append(level)
        self.norm_out = nn.GroupNorm(num_groups(chs[0]), chs[0], eps=EPS)
        self.conv_out = conv3(chs[0], config.out_channels or config.in_channels)

    def forward(self, x, t, cond=None, cond_mask=None):
        b, hgt, wid, _ = x.shape
        m = 2 ** (len(self.config.channels) - 1)
        x = F.pad(x.permute(0, 3, 1, 2), (0, -wid % m, 0, -hgt % m))  # NCHW, padded bottom/right
        temb = self.time_embed(t.expand(b) if t.ndim == 0 else t)
        h, skips = self.conv_in(x), []
        for level in self.encoder:
            h = level.run(h, temb, cond, cond_mask)
            skips.append(h)
            if level.down is not None:
                h = level.down(h)
        h = self.mid1(h, temb)
        if self.mid_attn is not None:
            h = self.mid_attn(h, cond, cond_mask)
        h = self.mid2(h, temb)
        for i in reversed(range(len(self.decoder))):
            level = self.decoder[i]
            if level.up is not None:
                h = level.up(h)
            s = skips[i] if self.config.skip else torch.zeros_like(skips[i])
            h = level.run(torch.cat([h, s], dim=1), temb, cond, cond_mask)
        out = self.conv_out(F.silu(self.norm_out(h)))
        return out[:, :, :hgt, :wid].permute(0, 2, 3, 1)


class TorchMLPField(nn.Module):
    """``genlab.models.mlp_field.MLPField`` (unconditional) in PyTorch: ``(x [B, dim], t [B] in [0, 1])``
    -> ``[B, dim]``."""

    def __init__(self, config):
        super().__init__()
        if config.num_classes:
            raise ValueError("the benchmark's MLP port is unconditional: build the MLPFieldConfig with num_classes=0")
        self.config = config
        c = config
        self.time = nn.Linear(c.time_dim, c.width)
        self.inp = nn.Linear(c.dim, c.width)
        self.hidden = nn.ModuleList([nn.Linear(c.width, c.width) for _ in range(c.depth - 1)])
        self.cond = nn.ModuleList([nn.Linear(c.width, c.width) for _ in range(c.depth - 1)])
        self.out = nn.Linear(c.width, c.dim)

    def forward(self, x, t):
        t = torch.as_tensor(t, dtype=torch.float32).expand(x.shape[0])
        emb = F.silu(self.time(timestep_embedding(t, self.config.time_dim)))
        h = F.silu(self.inp(x) + emb)
        for layer, cond in zip(self.hidden, self.cond):
            h = F.silu(layer(h) + cond(emb))
        return self.out(h)


def torch_num_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def _torch_name(path: tuple) -> str:
    *where, leaf = (str(p) for p in path)
    return ".".join(where + [{"kernel": "weight", "scale": "weight", "bias": "bias", "embedding": "weight"}[leaf]])


def copy_weights(model: nnx.Module, port: nn.Module) -> nn.Module:
    """Load ``model``'s ``nnx.Param`` leaves into ``port`` (same names; Linear kernels ``[in, out]`` -> ``[out, in]``,
    Conv kernels ``[kh, kw, in, out]`` -> ``[out, in, kh, kw]``). Every parameter of ``port`` must be matched."""
    flat = nnx.to_flat_state(nnx.state(model, nnx.Param))
    target = dict(port.named_parameters())
    seen = set()
    with torch.no_grad():
        for path, var in flat:
            name = _torch_name(path)
            if name not in target:
                raise KeyError(f"the port has no parameter {name!r} for genlab's {'.'.join(map(str, path))}")
            value = np.asarray(jax.device_get(var[...]), np.float32)
            if value.ndim == 2 and path[-1] == "kernel":
                value = value.T
            elif value.ndim == 4:
                value = value.transpose(3, 2, 0, 1)
            if tuple(target[name].shape) != value.shape:
                raise ValueError(f"{name}: the port has shape {tuple(target[name].shape)}, genlab {value.shape}")
            target[name].copy_(torch.from_numpy(np.array(value, np.float32, copy=True, order="C")))
            seen.add(name)
    missing = set(target) - seen
    if missing:
        raise KeyError(f"port parameters with no genlab counterpart: {sorted(missing)}")
    return port
