"""A convolutional VAE (Kingma & Welling 2014) that turns 28x28x1 images into 7x7x4 latent images.

    x [B,28,28,1] ─ encoder ─► mean, logvar [B,7,7,4] ─ z = mean + exp(logvar/2)·eps ─► decoder ─► recon [B,28,28,1]

This is the role the VAE plays in latent diffusion (Rombach et al. 2022): the diffusion model works on
``z`` instead of pixels, and the decoder turns a generated latent back into an image. Like Stable
Diffusion's 0.18215, ``latent_scale`` rescales latents to about unit variance; ours is computed from data
(:func:`genlab.pipelines.latents.latent_scale_from_data`) and stored in the model as a non-trainable variable,
so it is saved and restored with the weights. Use :meth:`VAE.to_latent` / :meth:`VAE.from_latent` to move
between images and the scaled latent space. The losses (reconstruction, KL) live in ``genlab.objectives.vae``.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
from flax import nnx

from genlab.models.layers.blocks import Downsample, ResBlock, Upsample, num_groups


@dataclasses.dataclass(frozen=True)
class VAEConfig:
    """Architecture of a :class:`VAE`. ``len(channels) - 1`` halvings: 28 -> 14 -> 7 with three levels."""

    in_channels: int = 1
    channels: tuple[int, ...] = (16, 32, 64)  # width per level; level i works at size / 2**i
    blocks: tuple[int, ...] = (0, 1, 1)  # ResBlocks per level (0 at full size saves most of the compute)
    latent_channels: int = 4

    def __post_init__(self):
        if len(self.blocks) != len(self.channels):
            raise ValueError(f"VAEConfig: blocks {self.blocks} needs one entry per level of channels {self.channels}")

    @classmethod
    def tiny(cls) -> VAEConfig:
        return cls(channels=(8, 16, 16))

    @classmethod
    def cpu(cls) -> VAEConfig:
        return cls()

    @classmethod
    def gpu(cls) -> VAEConfig:
        return cls(channels=(64, 128, 128), blocks=(1, 2, 2))

    def latent_shape(self, height: int = 28, width: int = 28) -> tuple[int, int, int]:
        """``(h, w, latent_channels)`` of the latent of an ``height x width`` image."""
        f = 2 ** (len(self.channels) - 1)
        return height // f, width // f, self.latent_channels


class LatentScale(nnx.Variable):
    """A number kept with the model but not trained (the optimiser updates ``nnx.Param`` only)."""


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class VAEOutput:
    """``recon: [B, H, W, C]``; ``mean``, ``logvar``, ``z``: ``[B, h, w, latent_channels]`` (z unscaled).
    A pytree, so jitted functions can return it."""

    recon: jax.Array
    mean: jax.Array
    logvar: jax.Array
    z: jax.Array


def reparameterize(mean: jax.Array, logvar: jax.Array, key: jax.Array) -> jax.Array:
    """``z = mean + exp(logvar / 2) * eps``, eps ~ N(0, I): a sample of q(z|x) that gradients flow through
    (Kingma & Welling 2014, sec. 2.4). Shapes as ``mean``."""
    eps = jax.random.normal(key, mean.shape, mean.dtype)
    return mean + jnp.exp(0.5 * logvar) * eps


class VAE(nnx.Module):
    """``VAE(config, rngs=...)(x, key=None) -> VAEOutput``; ``key=None`` uses ``z = mean`` (no sampling)."""

    def __init__(self, config: VAEConfig, *, rngs: nnx.Rngs):
        self.config = config
        chs, last = config.channels, len(config.channels) - 1
        # Encoder: conv_in; per level its ResBlocks, then a halving to the next width; then mean and logvar.
        self.enc_in = nnx.Conv(config.in_channels, chs[0], (3, 3), rngs=rngs)
        enc = []
        for i, c in enumerate(chs):
            enc += [ResBlock(c, c, rngs=rngs) for _ in range(config.blocks[i])]
            if i < last:
                enc.append(Downsample(c, chs[i + 1], rngs=rngs))
        self.encoder = nnx.List(enc)
        self.enc_norm = nnx.GroupNorm(chs[-1], num_groups=num_groups(chs[-1]), rngs=rngs)
        self.enc_out = nnx.Conv(chs[-1], 2 * config.latent_channels, (3, 3), rngs=rngs)
        # Decoder: the mirror image.
        self.dec_in = nnx.Conv(config.latent_channels, chs[-1], (3, 3), rngs=rngs)
        dec = []
        for i in reversed(range(len(chs))):
            dec += [ResBlock(chs[i], chs[i], rngs=rngs) for _ in range(config.blocks[i])]
            if i > 0:
                dec.append(Upsample(chs[i], chs[i - 1], rngs=rngs))
        self.decoder = nnx.List(dec)
        self.dec_norm = nnx.GroupNorm(chs[0], num_groups=num_groups(chs[0]), rngs=rngs)
        self.dec_out = nnx.Conv(chs[0], config.in_channels, (3, 3), rngs=rngs)
        self.latent_scale = LatentScale(jnp.ones((), jnp.float32))

    def encode(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
        """``x: [B, H, W, C]`` -> ``(mean, logvar)``, each ``[B, H/f, W/f, latent_channels]``, f = 2**(levels-1)."""
        f = 2 ** (len(self.config.channels) - 1)
        if x.ndim != 4 or x.shape[1] % f or x.shape[2] % f or x.shape[-1] != self.config.in_channels:
            raise ValueError(f"VAE expects x: [B, H, W, {self.config.in_channels}] with H and W multiples of {f}, "
                             f"got {x.shape}: pad or resize the images, or use fewer levels")
        h = self.enc_in(x)
        for layer in self.encoder:
            h = layer(h)
        h = self.enc_out(nnx.silu(self.enc_norm(h)))
        mean, logvar = jnp.split(h, 2, axis=-1)
        return mean, jnp.clip(logvar, -30.0, 20.0)  # clip as in CompVis' DiagonalGaussianDistribution

    def decode(self, z: jax.Array) -> jax.Array:
        """Unscaled ``z: [B, h, w, latent_channels]`` -> ``[B, h*f, w*f, C]`` (unbounded; clip to [-1, 1] to show)."""
        h = self.dec_in(z)
        for layer in self.decoder:
            h = layer(h)
        return self.dec_out(nnx.silu(self.dec_norm(h)))

    def __call__(self, x: jax.Array, key: jax.Array | None = None) -> VAEOutput:
        mean, logvar = self.encode(x)
        z = mean if key is None else reparameterize(mean, logvar, key)
        return VAEOutput(recon=self.decode(z), mean=mean, logvar=logvar, z=z)

    def to_latent(self, x: jax.Array, key: jax.Array | None = None) -> jax.Array:
        """Images -> scaled latents ``latent_scale * z`` (about unit variance once the scale is set)."""
        mean, logvar = self.encode(x)
        z = mean if key is None else reparameterize(mean, logvar, key)
        return z * self.latent_scale[...]

    def from_latent(self, z_scaled: jax.Array) -> jax.Array:
        """Scaled latents (e.g. a latent diffusion sample) -> images: ``decode(z_scaled / latent_scale)``."""
        return self.decode(z_scaled / self.latent_scale[...])
