"""A small CNN for 28x28x1 images: the Fashion-MNIST reference classifier's network.

Stages of ``convs_per_stage`` 3x3 convolutions + ReLU, each stage ending in a 2x2 max-pool, then a
dense layer of ``features`` units (the penultimate features: the Fréchet-distance feature space of
:mod:`genlab.metrics.reference`) and a dense layer to the class logits. No BatchNorm, so train and
eval mode differ only by dropout, which is active only when a ``dropout_key`` is passed.
"""

from __future__ import annotations

import dataclasses

import jax
from flax import nnx


@dataclasses.dataclass(frozen=True)
class ClassifierConfig:
    """The reference classifier's network (training settings live in ``genlab.experiments.classifier``)."""

    channels: tuple[int, ...] = (16, 32)  # conv widths, one stage per entry (each halves H and W)
    convs_per_stage: int = 1  # 3x3 conv + ReLU layers per stage
    features: int = 128  # penultimate width (FD feature space)
    dropout: float = 0.0  # on the penultimate features, training only
    num_classes: int = 10

    @classmethod
    def tiny(cls) -> ClassifierConfig:
        return cls(channels=(8, 16), features=32)

    @classmethod
    def cpu(cls) -> ClassifierConfig:
        return cls()

    @classmethod
    def gpu(cls) -> ClassifierConfig:
        """Wider and deeper, with dropout."""
        return cls(channels=(32, 64), convs_per_stage=2, dropout=0.2)


class ClassifierNet(nnx.Module):
    """CNN classifier. ``x: [B, 28, 28, 1]`` in [-1, 1] -> logits ``[B, num_classes]``."""

    def __init__(
        self,
        *,
        channels: tuple[int, ...] = (16, 32),
        convs_per_stage: int = 1,
        features: int = 128,
        dropout: float = 0.0,
        num_classes: int = 10,
        image_size: int = 28,
        in_channels: int = 1,
        rngs: nnx.Rngs,
    ):
        convs, c_in = [], in_channels
        for c_out in channels:
            for _ in range(convs_per_stage):
                convs.append(nnx.Conv(c_in, c_out, (3, 3), rngs=rngs))
                c_in = c_out
        self.convs = nnx.List(convs)
        self.convs_per_stage = convs_per_stage
        side = image_size // 2 ** len(channels)
        self.hidden = nnx.Linear(side * side * c_in, features, rngs=rngs)
        self.dropout = nnx.Dropout(dropout)
        self.head = nnx.Linear(features, num_classes, rngs=rngs)

    @classmethod
    def from_config(cls, config: ClassifierConfig, *, rngs: nnx.Rngs) -> ClassifierNet:
        return cls(
            channels=config.channels,
            convs_per_stage=config.convs_per_stage,
            features=config.features,
            dropout=config.dropout,
            num_classes=config.num_classes,
            rngs=rngs,
        )

    def features(self, x: jax.Array) -> jax.Array:
        """Penultimate features ``[B, features]`` (after ReLU) of ``x: [B, 28, 28, 1]``."""
        h = x
        for i, conv in enumerate(self.convs):
            h = nnx.relu(conv(h))
            if (i + 1) % self.convs_per_stage == 0:
                h = nnx.max_pool(h, (2, 2), strides=(2, 2))
        h = h.reshape(h.shape[0], -1)  # [B, side*side*C]
        return nnx.relu(self.hidden(h))

    def __call__(self, x: jax.Array, *, dropout_key: jax.Array | None = None) -> jax.Array:
        """Logits ``[B, num_classes]``; dropout is applied only when ``dropout_key`` is given."""
        h = self.features(x)
        h = self.dropout(h, deterministic=dropout_key is None, rngs=dropout_key)
        return self.head(h)
