"""The one optimiser builder: Adam or AdamW with a learning-rate schedule and optional gradient clipping.

    optimizer = make_optimizer(model, OptimConfig(learning_rate=2e-3, warmup_steps=50, clip_norm=1.0), steps)

Schedules (``OptimConfig.schedule``):

- ``"warmup_cosine"``: linear warmup from 0 over ``warmup_steps``, then cosine decay to 0 at ``steps``
  (the warmup is shortened to leave at least one decay step);
- ``"constant"``: ``learning_rate`` throughout, then, when ``decay_from < 1``, a cosine decay over the
  last ``1 - decay_from`` of the run to ``final_fraction * learning_rate`` (a final low-lr phase that
  sharpens the modes of a GAN).
"""

from __future__ import annotations

import dataclasses

import optax
from flax import nnx

SCHEDULES = ("warmup_cosine", "constant")


@dataclasses.dataclass(frozen=True)
class OptimConfig:
    """Adam (``weight_decay == 0``) or AdamW, its schedule, and gradient clipping."""

    learning_rate: float = 1e-3
    schedule: str = "warmup_cosine"  # one of SCHEDULES
    warmup_steps: int = 0  # warmup_cosine only
    decay_from: float = 1.0  # constant only: fraction of the run after which the cosine decay starts ...
    final_fraction: float = 1.0  # ... down to this fraction of learning_rate
    b1: float = 0.9
    b2: float = 0.999
    weight_decay: float = 0.0  # > 0: AdamW (decoupled weight decay)
    clip_norm: float | None = None  # clip the gradient's global norm to this (None: no clipping)

    def __post_init__(self):
        if self.schedule not in SCHEDULES:
            raise ValueError(f"unknown schedule {self.schedule!r}: choose one of {', '.join(SCHEDULES)}")


def learning_rate_schedule(config: OptimConfig, steps: int) -> optax.Schedule | float:
    """The learning rate as a function of the step (a float when it is constant)."""
    lr = config.learning_rate
    if config.schedule == "warmup_cosine":
        warmup = min(config.warmup_steps, max(steps - 1, 0))  # leave at least one decay step
        return optax.warmup_cosine_decay_schedule(0.0, lr, warmup, max(steps, warmup + 1))
    start = int(config.decay_from * steps)
    if start >= steps or config.final_fraction == 1.0:
        return lr
    decay = optax.cosine_decay_schedule(lr, steps - start, alpha=config.final_fraction)
    return optax.join_schedules([optax.constant_schedule(lr), decay], [start])


def make_transform(config: OptimConfig, steps: int) -> optax.GradientTransformation:
    """The optax transformation for ``config`` over a run of ``steps`` steps."""
    schedule = learning_rate_schedule(config, steps)
    if config.weight_decay > 0:
        opt = optax.adamw(schedule, config.b1, config.b2, weight_decay=config.weight_decay)
    else:
        opt = optax.adam(schedule, config.b1, config.b2)
    if config.clip_norm is not None:
        opt = optax.chain(optax.clip_by_global_norm(config.clip_norm), opt)
    return opt


def make_optimizer(model, config: OptimConfig, steps: int) -> nnx.Optimizer:
    """An ``nnx.Optimizer`` over ``model``'s ``nnx.Param`` for a run of ``steps`` steps."""
    return nnx.Optimizer(model, make_transform(config, steps), wrt=nnx.Param)
