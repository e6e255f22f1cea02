"""Generator and discriminator MLPs for 2D toy data (the Metz et al. 2017 / VEEGAN setup by default).

Modules hold no maths beyond their layers: losses, penalties and packing live in
``genlab.objectives.gan``. ``G(z, label=None) -> x`` and ``D(x, label=None) -> logits [B]``.
:class:`MLPGANConfig` and :func:`build` make the pair from one config.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
from flax import nnx

from genlab.models.layers.minibatch import minibatch_stddev

ACTIVATIONS = {"relu": nnx.relu, "leaky_relu": lambda h: nnx.leaky_relu(h, 0.2), "tanh": jnp.tanh}


def _activation(name: str):
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}: choose one of {', '.join(ACTIVATIONS)}")
    return ACTIVATIONS[name]


class MLPGenerator(nnx.Module):
    """z: [B, latent_dim] -> x: [B, out_dim]. ``depth`` hidden layers of ``width`` units.

    ``scale`` (fixed) multiplies the output: the network works at unit scale for data of radius ``scale``.
    """

    def __init__(self, latent_dim: int = 256, width: int = 128, depth: int = 2, out_dim: int = 2,
                 activation: str = "relu", scale: float = 1.0, *, rngs: nnx.Rngs):
        self.latent_dim = latent_dim
        self.act = activation
        self.scale = scale
        sizes = [latent_dim] + [width] * depth
        self.hidden = nnx.List([nnx.Linear(a, b, rngs=rngs) for a, b in zip(sizes[:-1], sizes[1:])])
        self.out = nnx.Linear(sizes[-1], out_dim, rngs=rngs)

    def __call__(self, z: jax.Array, label: jax.Array | None = None) -> jax.Array:
        h = z
        for layer in self.hidden:
            h = _activation(self.act)(layer(h))
        return self.scale * self.out(h)


class MLPDiscriminator(nnx.Module):
    """x: [B, in_dim] -> logits [B]. For PacGAN with degree m build it with ``in_dim = m * 2``.

    ``minibatch_std`` appends the batch's mean standard deviation to the last hidden features;
    ``scale`` (fixed) divides the input, as the generator's ``scale`` multiplies its output.
    """

    def __init__(self, in_dim: int = 2, width: int = 128, depth: int = 1, activation: str = "relu",
                 minibatch_std: bool = False, scale: float = 1.0, *, rngs: nnx.Rngs):
        self.act = activation
        self.scale = scale
        self.minibatch_std = minibatch_std
        sizes = [in_dim] + [width] * depth
        self.hidden = nnx.List([nnx.Linear(a, b, rngs=rngs) for a, b in zip(sizes[:-1], sizes[1:])])
        self.out = nnx.Linear(sizes[-1] + int(minibatch_std), 1, rngs=rngs)

    def __call__(self, x: jax.Array, label: jax.Array | None = None) -> jax.Array:
        h = x / self.scale
        for layer in self.hidden:
            h = _activation(self.act)(layer(h))
        if self.minibatch_std:
            h = minibatch_stddev(h)
        return self.out(h)[:, 0]


@dataclasses.dataclass(frozen=True)
class MLPGANConfig:
    """Both 2D networks. Defaults: Metz et al. 2017 (G = MLP 256 → 128 → 128 → 2, D = MLP 2 → 128 → 1, ReLU)."""

    latent_dim: int = 256
    g_width: int = 128
    g_depth: int = 2
    d_width: int = 128
    d_depth: int = 1
    d_activation: str = "relu"
    minibatch_std: bool = False  # D appends the minibatch standard deviation to its last features
    g_out_init: float = 1.0  # scales G's initial output layer (0.01: every sample starts near the origin)
    data_scale: float = 1.0  # G's output is multiplied and D's input divided by this (networks work at unit scale)


def build(config: MLPGANConfig, key: jax.Array, pack: int = 1) -> tuple[MLPGenerator, MLPDiscriminator]:
    """A fresh ``(G, D)`` for 2D data; D reads ``pack`` samples at once (PacGAN: ``2 * pack`` inputs)."""
    k_g, k_d = jax.random.split(key)
    G = MLPGenerator(config.latent_dim, config.g_width, config.g_depth, 2, scale=config.data_scale,
                     rngs=nnx.Rngs(k_g))
    D = MLPDiscriminator(2 * pack, config.d_width, config.d_depth, config.d_activation, config.minibatch_std,
                         scale=config.data_scale, rngs=nnx.Rngs(k_d))
    if config.g_out_init != 1.0:
        G.out.kernel[...] = config.g_out_init * G.out.kernel[...]
    return G, D
