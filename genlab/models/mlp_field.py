"""A small time-conditioned MLP for vector fields on low-dimensional data (2D flow matching).

``field(x, t, label=None) -> [B, dim]``: sinusoidal features of t (and an optional class embedding) are
projected into every hidden layer, so the field can change sharply in time (near t = 1 the velocity of a
narrow mode grows like 1 / (1 − t)). Class ``num_classes`` is the null condition (classifier-free guidance).
The module holds no maths: paths, losses and solvers take it as an argument.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
from flax import nnx

from genlab.models.layers.blocks import timestep_embedding


@dataclasses.dataclass(frozen=True)
class MLPFieldConfig:
    dim: int = 2  # data dimension (input and output)
    width: int = 256  # hidden units per layer
    depth: int = 4  # hidden layers
    time_dim: int = 64  # sinusoidal time features (even)
    num_classes: int = 0  # > 0: conditional on labels 0..num_classes-1; num_classes is the null label

    @classmethod
    def tiny(cls) -> MLPFieldConfig:
        return cls(width=32, depth=2, time_dim=16)


class MLPField(nnx.Module):
    """``x: [B, dim]``, ``t: [B]`` or scalar in [0, 1], ``label: [B]`` int or None -> ``[B, dim]``."""

    def __init__(self, config: MLPFieldConfig, *, rngs: nnx.Rngs):
        self.config = config
        c = config
        self.time = nnx.Linear(c.time_dim, c.width, rngs=rngs)
        self.label = nnx.Embed(c.num_classes + 1, c.width, rngs=rngs) if c.num_classes else None
        self.inp = nnx.Linear(c.dim, c.width, rngs=rngs)
        self.hidden = nnx.List([nnx.Linear(c.width, c.width, rngs=rngs) for _ in range(c.depth - 1)])
        self.cond = nnx.List([nnx.Linear(c.width, c.width, rngs=rngs) for _ in range(c.depth - 1)])
        self.out = nnx.Linear(c.width, c.dim, rngs=rngs)

    @property
    def null_label(self) -> int | None:
        return self.config.num_classes if self.config.num_classes else None

    def __call__(self, x: jax.Array, t: jax.Array, label: jax.Array | None = None) -> jax.Array:
        t = jnp.broadcast_to(jnp.asarray(t, jnp.float32), x.shape[:1])  # [B]
        emb = nnx.silu(self.time(timestep_embedding(t, self.config.time_dim)))  # [B, width]
        if self.label is not None:
            if label is None:
                label = jnp.full(x.shape[:1], self.config.num_classes, jnp.int32)
            emb = emb + self.label(label)
        h = nnx.silu(self.inp(x) + emb)
        for layer, cond in zip(self.hidden, self.cond):
            h = nnx.silu(layer(h) + cond(emb))
        return self.out(h)
