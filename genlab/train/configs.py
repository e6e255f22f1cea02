"""Config parts every experiment shares (see genlab/experiments/README.md)."""

from __future__ import annotations

import dataclasses

from genlab.train.optim import OptimConfig

__all__ = ["OptimConfig", "TrainConfig"]


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """How long and on how much data: the part of a config a preset changes most."""

    steps: int = 1000
    batch_size: int = 64
    log_every: int = 50  # fetch metrics to the host every N steps
