"""Attention for the U-Net: self-attention over pixels and cross-attention to condition vectors.

``SpatialTransformer`` is the block Stable Diffusion puts into its U-Net (Rombach et al. 2022, sec. 3.3):
the feature map becomes a sequence of H*W tokens; each token attends to the other tokens (self-attention)
and, when a condition is given, to the condition vectors (cross-attention: queries from pixels, keys and
values from e.g. text embeddings ``[B, L, D_cond]``), then passes through a small MLP. Every sub-layer is
residual, so a block with no condition only mixes pixels.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx


class Attention(nnx.Module):
    """Multi-head scaled dot-product attention (Vaswani et al. 2017, eq. 1).

    ``x: [B, T, dim]`` queries; ``context: [B, S, context_dim]`` keys/values (``x`` itself when None);
    ``mask: [B, S]`` bool (True = attend) or None -> ``[B, T, dim]``; ``causal=True`` (self-attention,
    T == S) also lets token t attend only to tokens <= t, as a GPT or CLIP text encoder does.
    A row whose mask is all False attends to nothing and returns zeros (e.g. an empty prompt).
    """

    def __init__(self, dim: int, *, context_dim: int | None = None, num_heads: int = 4, rngs: nnx.Rngs):
        if dim % num_heads:
            raise ValueError(f"attention width {dim} is not divisible by num_heads={num_heads}: change one of them")
        self.num_heads = num_heads
        kv_dim = context_dim or dim
        self.q = nnx.Linear(dim, dim, use_bias=False, rngs=rngs)
        self.k = nnx.Linear(kv_dim, dim, use_bias=False, rngs=rngs)
        self.v = nnx.Linear(kv_dim, dim, use_bias=False, rngs=rngs)
        self.out = nnx.Linear(dim, dim, rngs=rngs)

    def __call__(self, x: jax.Array, context: jax.Array | None = None, mask: jax.Array | None = None,
                 causal: bool = False) -> jax.Array:
        context = x if context is None else context
        b, t, d = x.shape
        s = context.shape[1]
        heads = lambda a, n: a.reshape(b, n, self.num_heads, d // self.num_heads)  # noqa: E731
        q, k, v = heads(self.q(x), t), heads(self.k(context), s), heads(self.v(context), s)  # [B, T|S, N, d/N]
        attn_mask = None if mask is None else mask.astype(bool)[:, None, None, :]  # [B, 1, 1, S]
        h = jax.nn.dot_product_attention(q, k, v, mask=attn_mask, is_causal=causal)  # [B, T, N, dim/N]
        h = self.out(h.reshape(b, t, d))  # [B, T, dim]
        if mask is not None:  # all-masked rows: the softmax would spread over masked keys; give zeros instead
            h = h * jnp.any(mask, axis=-1)[:, None, None].astype(h.dtype)
        return h


class SpatialTransformer(nnx.Module):
    """Self-attention, optional cross-attention and an MLP over the pixels of a feature map.

    ``x: [B, H, W, C]``, ``cond: [B, L, cond_dim]`` or None, ``cond_mask: [B, L]`` or None -> ``[B, H, W, C]``.
    Built with ``cond_dim=None`` it has no cross-attention and ignores nothing (pass no condition).
    """

    def __init__(self, channels: int, *, cond_dim: int | None = None, num_heads: int = 4, rngs: nnx.Rngs):
        self.norm_self = nnx.LayerNorm(channels, rngs=rngs)
        self.self_attn = Attention(channels, num_heads=num_heads, rngs=rngs)
        if cond_dim:
            self.norm_cross = nnx.LayerNorm(channels, rngs=rngs)
            self.cross_attn = Attention(channels, context_dim=cond_dim, num_heads=num_heads, rngs=rngs)
        else:
            self.norm_cross, self.cross_attn = None, None
        self.norm_mlp = nnx.LayerNorm(channels, rngs=rngs)
        self.mlp_in = nnx.Linear(channels, 4 * channels, rngs=rngs)
        self.mlp_out = nnx.Linear(4 * channels, channels, rngs=rngs)

    def __call__(self, x: jax.Array, cond: jax.Array | None = None, cond_mask: jax.Array | None = None) -> jax.Array:
        b, hgt, wid, c = x.shape
        h = x.reshape(b, hgt * wid, c)  # [B, HW, C] tokens; pre-norm residual sub-layers
        h = h + self.self_attn(self.norm_self(h))
        if cond is not None:
            if self.cross_attn is None:
                raise ValueError("a condition was passed, but this block has no cross-attention: set cond_dim")
            h = h + self.cross_attn(self.norm_cross(h), cond, cond_mask)
        h = h + self.mlp_out(nnx.gelu(self.mlp_in(self.norm_mlp(h))))
        return h.reshape(b, hgt, wid, c)
