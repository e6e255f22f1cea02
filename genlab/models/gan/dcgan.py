"""DCGAN-style generator and discriminator for 28x28x1 images in [-1, 1] (Radford et al. 2016), NHWC.

    G: z [B, latent_dim] (+ label embedding) -> dense -> 7x7xC0 -> convT x2 -> 14x14xC1 -> convT x2 -> 28x28x1, tanh
    D: x [B, 28, 28, C] -> stride-2 conv -> 14x14xC0 -> stride-2 conv -> 7x7xC1 (+ minibatch-stddev) -> logit [B]

Both follow the shared GAN contract of :mod:`genlab.models.gan`: ``G(z, label=None)`` (with
``G.latent_dim``) and ``D(x, label=None)`` returning logits. Unconditional modules ignore ``label``.

Conditional variant (``num_classes > 0``): G concatenates a learned label embedding to z; D is a
projection discriminator (Miyato & Koyama 2018): ``logit = w·h + <embed(y), h>`` on D's features h.

Choices for a CPU lab: no BatchNorm (its running statistics are hidden state and its batch coupling
confuses R1 and packing); G normalises with pixel norm (Karras et al. 2018, stateless); up-sampling is
DCGAN's 4x4 stride-2 transposed convolution (on CPU faster than nearest resize + 3x3 conv, and sharper).
``minibatch_std`` appends the batch standard deviation of D's features as one channel (Karras et al.
2018), so D can see a batch that lacks variety: a standard remedy for mode collapse.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
from flax import nnx

from genlab.models.layers.minibatch import minibatch_stddev

IMAGE_SIZE = 28
BASE = IMAGE_SIZE // 4  # 7: G starts at 7x7, D ends at 7x7


@dataclasses.dataclass(frozen=True)
class DCGANConfig:
    """Widths of the two networks. ``num_classes = 0``: unconditional."""

    latent_dim: int = 64  # z ~ N(0, I)
    g_channels: tuple[int, int] = (64, 32)  # G widths at 7x7 and 14x14
    d_channels: tuple[int, int] = (32, 64)  # D widths at 14x14 and 7x7
    num_classes: int = 0  # > 0: class-conditional G and projection D
    embed_dim: int = 16  # G's label embedding width
    minibatch_std: bool = False  # D appends the minibatch standard deviation as a feature channel
    image_channels: int = 1  # 1 for Fashion-MNIST

    @classmethod
    def tiny(cls) -> DCGANConfig:
        return cls(latent_dim=8, g_channels=(8, 4), d_channels=(4, 8), embed_dim=4)

    @classmethod
    def cpu(cls) -> DCGANConfig:
        return cls()

    @classmethod
    def gpu(cls) -> DCGANConfig:
        return cls(latent_dim=128, g_channels=(256, 128), d_channels=(64, 128), embed_dim=32)


def pixel_norm(h: jax.Array, eps: float = 1e-8) -> jax.Array:
    """Normalise each pixel's feature vector to unit RMS: ``h: [..., C]`` (Karras et al. 2018, eq. in §4.2)."""
    return h * jax.lax.rsqrt(jnp.mean(h * h, axis=-1, keepdims=True) + eps)


class Generator(nnx.Module):
    """``G(z, label=None)``: ``z: [B, latent_dim]``, ``label: [B]`` int -> images ``[B, 28, 28, C]`` in [-1, 1]."""

    def __init__(
        self,
        *,
        latent_dim: int = 64,
        channels: tuple[int, int] = (64, 32),
        num_classes: int = 0,
        embed_dim: int = 16,
        out_channels: int = 1,
        rngs: nnx.Rngs,
    ):
        c0, c1 = channels
        self.latent_dim = latent_dim
        self.num_classes = num_classes
        self.embed = nnx.Embed(num_classes, embed_dim, rngs=rngs) if num_classes else None
        self.dense = nnx.Linear(latent_dim + (embed_dim if num_classes else 0), BASE * BASE * c0, rngs=rngs)
        self.up14 = nnx.ConvTranspose(c0, c1, (4, 4), strides=(2, 2), rngs=rngs)
        self.up28 = nnx.ConvTranspose(c1, out_channels, (4, 4), strides=(2, 2), rngs=rngs)
        self.c0 = c0

    @classmethod
    def from_config(cls, config: DCGANConfig, *, rngs: nnx.Rngs) -> Generator:
        return cls(latent_dim=config.latent_dim, channels=config.g_channels, num_classes=config.num_classes,
                   embed_dim=config.embed_dim, out_channels=config.image_channels, rngs=rngs)

    def __call__(self, z: jax.Array, label: jax.Array | None = None) -> jax.Array:
        if self.embed is not None:
            if label is None:
                raise ValueError("this generator is class-conditional: pass label=[B] int class ids "
                                 "(e.g. uniform jax.random.randint), or build it with num_classes=0")
            z = jnp.concatenate([z, self.embed(label)], axis=-1)  # [B, latent_dim + embed_dim]
        h = self.dense(z).reshape(z.shape[0], BASE, BASE, self.c0)  # [B, 7, 7, C0]
        h = pixel_norm(nnx.relu(h))
        h = pixel_norm(nnx.relu(self.up14(h)))  # [B, 14, 14, C1]
        return jnp.tanh(self.up28(h))  # [B, 28, 28, C]


class Discriminator(nnx.Module):
    """``D(x, label=None)``: ``x: [B, 28, 28, in_channels]`` -> logits ``[B]`` (no sigmoid)."""

    def __init__(
        self,
        *,
        channels: tuple[int, int] = (32, 64),
        in_channels: int = 1,
        num_classes: int = 0,
        minibatch_std: bool = False,
        rngs: nnx.Rngs,
    ):
        c0, c1 = channels
        self.num_classes = num_classes
        self.minibatch_std = minibatch_std
        self.conv14 = nnx.Conv(in_channels, c0, (4, 4), strides=(2, 2), rngs=rngs)
        self.conv7 = nnx.Conv(c0, c1, (4, 4), strides=(2, 2), rngs=rngs)
        self.conv_out = nnx.Conv(c1 + int(minibatch_std), c1, (3, 3), rngs=rngs)
        feats = BASE * BASE * c1
        self.head = nnx.Linear(feats, 1, rngs=rngs)
        self.embed = nnx.Embed(num_classes, feats, rngs=rngs) if num_classes else None

    @classmethod
    def from_config(cls, config: DCGANConfig, *, pack: int = 1, rngs: nnx.Rngs) -> Discriminator:
        """D for ``config``; it sees ``pack`` images stacked on the channel axis (PacGAN; 1 = no packing)."""
        return cls(channels=config.d_channels, in_channels=config.image_channels * pack,
                   num_classes=config.num_classes, minibatch_std=config.minibatch_std, rngs=rngs)

    def features(self, x: jax.Array) -> jax.Array:
        """D's last features ``[B, 7*7*C1]`` of ``x: [B, 28, 28, in_channels]``."""
        h = nnx.leaky_relu(self.conv14(x), 0.2)  # [B, 14, 14, C0]
        h = nnx.leaky_relu(self.conv7(h), 0.2)  # [B, 7, 7, C1]
        if self.minibatch_std:
            h = minibatch_stddev(h)  # [B, 7, 7, C1 + 1]
        h = nnx.leaky_relu(self.conv_out(h), 0.2)  # [B, 7, 7, C1]
        return h.reshape(h.shape[0], -1)

    def __call__(self, x: jax.Array, label: jax.Array | None = None) -> jax.Array:
        h = self.features(x)  # [B, F]
        logit = self.head(h)[:, 0]  # [B]
        if self.embed is not None:
            if label is None:
                raise ValueError("this discriminator is class-conditional (projection): pass label=[B] int "
                                 "class ids, or build it with num_classes=0")
            logit = logit + jnp.sum(self.embed(label) * h, axis=-1)  # projection term <embed(y), h>
        return logit


def build(config: DCGANConfig, key: jax.Array, pack: int = 1) -> tuple[Generator, Discriminator]:
    """A fresh ``(G, D)`` pair from ``config``; ``key`` seeds both initialisations; D reads ``pack`` images."""
    k_g, k_d = jax.random.split(key)
    return (Generator.from_config(config, rngs=nnx.Rngs(k_g)),
            Discriminator.from_config(config, pack=pack, rngs=nnx.Rngs(k_d)))
