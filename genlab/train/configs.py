"""Config parts every experiment shares (see genlab/experiments/README.md)."""

from __future__ import annotations

import dataclasses

@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """How long and on how much data: the part of a config a preset changes most."""

    steps: int = 1000
    batch_size: int = 64
    log_every: int = 50  # fetch metrics to the host every N steps
    examples: int | None = None  # train on the first N examples of the split (None: all of it)

    def subset(self, array):
        """The first ``examples`` rows of ``array`` (all of them when ``examples`` is None)."""
        return array if self.examples is None else array[: self.examples]
