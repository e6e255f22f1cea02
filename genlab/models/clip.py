"""A small CLIP (Radford et al. 2021): a text transformer and an image CNN that map into one space.

``TextEncoder`` is CLIP's text tower at toy size: token embeddings plus learned positions, pre-norm
transformer blocks with *causal* self-attention (token t sees tokens <= t), a final LayerNorm. It
returns every token's state ``[B, L, width]`` (what a U-Net cross-attends to) and, read at the end
token and projected, one vector per prompt ``[B, embed_dim]``. ``ImageEncoder`` is a small CNN with its
own projection into the same space. ``CLIP`` holds both and the learnable logit scale (log of the
inverse temperature). The contrastive loss lives in :mod:`genlab.objectives.contrastive`.

Padding changes nothing: the attention mask hides padded keys and causality hides later tokens, so a
prompt's states and pooled vector do not depend on how much padding follows it.
"""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp
from flax import nnx

from genlab.models.layers.attention import Attention
from genlab.text.tokenizer import CONTEXT_LENGTH, VOCAB_SIZE


@dataclasses.dataclass(frozen=True)
class TextEncoderConfig:
    vocab_size: int = VOCAB_SIZE  # >= the tokenizer's vocabulary (its upper bound)
    context_length: int = CONTEXT_LENGTH  # learned positions for this many tokens
    width: int = 64  # the U-Net of latent-diffusion cross-attends to these states (its cond_dim)
    depth: int = 2
    num_heads: int = 4


@dataclasses.dataclass(frozen=True)
class ImageEncoderConfig:
    channels: tuple[int, ...] = (8, 16, 32)  # stride-2 convolutions: 28 -> 14 -> 7 -> 4
    hidden: int = 128  # width of the MLP head on the flattened feature map


@dataclasses.dataclass(frozen=True)
class CLIPConfig:
    text: TextEncoderConfig = TextEncoderConfig()
    image: ImageEncoderConfig = ImageEncoderConfig()
    embed_dim: int = 64  # the shared space
    image_size: int = 28
    image_channels: int = 1
    init_temperature: float = 0.07  # CLIP's initial temperature: logit scale log(1 / 0.07)

    @classmethod
    def from_dict(cls, d: dict) -> CLIPConfig:
        """The inverse of ``dataclasses.asdict`` (for configs read back from JSON)."""
        image = dict(d["image"], channels=tuple(d["image"]["channels"]))
        rest = {k: v for k, v in d.items() if k not in ("text", "image")}
        return cls(text=TextEncoderConfig(**d["text"]), image=ImageEncoderConfig(**image), **rest)


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class TextOutput:
    """``states: [B, L, width]`` every token's final state; ``pooled: [B, embed_dim]`` the projected state
    of each prompt's end token (not normalised). A pytree, so jitted functions can return it."""

    states: jax.Array
    pooled: jax.Array


class TextBlock(nnx.Module):
    """Pre-norm transformer block: ``x + attn(LN(x))`` (causal, masked), then ``x + MLP(LN(x))``."""

    def __init__(self, width: int, num_heads: int, *, rngs: nnx.Rngs):
        self.norm_attn = nnx.LayerNorm(width, rngs=rngs)
        self.attn = Attention(width, num_heads=num_heads, rngs=rngs)
        self.norm_mlp = nnx.LayerNorm(width, rngs=rngs)
        self.mlp_in = nnx.Linear(width, 4 * width, rngs=rngs)
        self.mlp_out = nnx.Linear(4 * width, width, rngs=rngs)

    def __call__(self, x: jax.Array, mask: jax.Array) -> jax.Array:
        x = x + self.attn(self.norm_attn(x), mask=mask, causal=True)
        return x + self.mlp_out(nnx.gelu(self.mlp_in(self.norm_mlp(x))))


class TextEncoder(nnx.Module):
    """``(ids: [B, L] int, mask: [B, L] bool) -> TextOutput(states [B, L, width], pooled [B, embed_dim])``.

    ``L <= context_length``. The pooled vector is read at the last unmasked position, the end token.
    """

    def __init__(self, config: TextEncoderConfig, embed_dim: int, *, rngs: nnx.Rngs):
        self.config = config
        self.token = nnx.Embed(config.vocab_size, config.width, rngs=rngs)
        init = nnx.initializers.normal(0.01)
        self.position = nnx.Param(init(rngs.params(), (config.context_length, config.width)))
        self.blocks = nnx.List([TextBlock(config.width, config.num_heads, rngs=rngs) for _ in range(config.depth)])
        self.norm = nnx.LayerNorm(config.width, rngs=rngs)
        self.projection = nnx.Linear(config.width, embed_dim, use_bias=False, rngs=rngs)

    def __call__(self, ids: jax.Array, mask: jax.Array) -> TextOutput:
        length = ids.shape[1]
        if length > self.config.context_length:
            raise ValueError(f"{length} tokens but the encoder has {self.config.context_length} positions")
        mask = mask.astype(bool)
        h = self.token(ids) + self.position[None, :length]  # [B, L, width]
        for block in self.blocks:
            h = block(h, mask)
        states = self.norm(h)  # [B, L, width]
        end = jnp.maximum(jnp.sum(mask, axis=1) - 1, 0)  # [B] index of the end token
        pooled = jnp.take_along_axis(states, end[:, None, None], axis=1)[:, 0]  # [B, width]
        return TextOutput(states, self.projection(pooled))


class ImageEncoder(nnx.Module):
    """``images: [B, H, W, C]`` in [-1, 1] -> ``[B, embed_dim]`` (not normalised).

    A 3x3 convolution, then one stride-2 3x3 convolution per entry of ``channels`` (GELU after each),
    the feature map flattened, an MLP, and the projection into the shared space.
    """

    def __init__(self, config: ImageEncoderConfig, embed_dim: int, image_size: int = 28, in_channels: int = 1,
                 *, rngs: nnx.Rngs):
        c0 = config.channels[0]
        self.stem = nnx.Conv(in_channels, c0, (3, 3), rngs=rngs)
        chans = (c0, *config.channels)
        self.convs = nnx.List([nnx.Conv(a, b, (3, 3), strides=(2, 2), rngs=rngs) for a, b in zip(chans, chans[1:])])
        side = image_size
        for _ in config.channels:
            side = math.ceil(side / 2)
        self.norm = nnx.LayerNorm(side * side * chans[-1], rngs=rngs)
        self.hidden = nnx.Linear(side * side * chans[-1], config.hidden, rngs=rngs)
        self.projection = nnx.Linear(config.hidden, embed_dim, use_bias=False, rngs=rngs)

    def __call__(self, images: jax.Array) -> jax.Array:
        h = nnx.gelu(self.stem(images))  # [B, H, W, c0]
        for conv in self.convs:
            h = nnx.gelu(conv(h))  # halves the side each time
        h = self.norm(h.reshape(h.shape[0], -1))  # [B, side * side * c]
        return self.projection(nnx.gelu(self.hidden(h)))  # [B, embed_dim]


class CLIP(nnx.Module):
    """Both towers and ``logit_scale`` (a scalar ``nnx.Param``: log of the inverse temperature).

    ``model.text(ids, mask) -> TextOutput``; ``model.image(images) -> [B, embed_dim]``.
    """

    def __init__(self, config: CLIPConfig, *, rngs: nnx.Rngs):
        self.config = config
        self.text = TextEncoder(config.text, config.embed_dim, rngs=rngs)
        self.image = ImageEncoder(config.image, config.embed_dim, config.image_size, config.image_channels,
                                  rngs=rngs)
        self.logit_scale = nnx.Param(jnp.asarray(math.log(1.0 / config.init_temperature), jnp.float32))
