"""The evaluation-key rule: what an experiment evaluates with never overlaps what it trained with.

Training draws from ``jax.random.key(seed)``; evaluation (and the per-run keys of the GAN experiments)
from ``eval_key(seed) = jax.random.key(10_000 + seed)``.
"""

from __future__ import annotations

import jax

EVAL_SEED_OFFSET = 10_000


def eval_key(seed: int) -> jax.Array:
    """The evaluation key of seed ``seed``."""
    return jax.random.key(EVAL_SEED_OFFSET + seed)
