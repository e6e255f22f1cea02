"""One training engine: ``fit`` (jit steps, history, callbacks, NaN guard, checkpoints, data parallelism).

Rooms: ``engine`` (fit), ``history`` (History, light: figures and diagnostics import only this),
``steps`` (the one train-step shape), ``optim`` (OptimConfig and the one optimiser builder),
``configs`` (TrainConfig), ``batched`` (apply a function to a big array in chunks), ``keys`` (the
evaluation-key rule), ``checkpoint`` (Orbax behind save/restore), ``sharding`` (data parallelism).

Names are imported lazily, so ``from genlab.train.history import History`` does not pull in Orbax.
"""

from __future__ import annotations

import importlib

_NAMES = {"History": "genlab.train.history", "NonFiniteError": "genlab.train.engine", "fit": "genlab.train.engine"}

__all__ = sorted(_NAMES)


def __getattr__(name: str):
    if name in _NAMES:
        return getattr(importlib.import_module(_NAMES[name]), name)
    raise AttributeError(f"module 'genlab.train' has no attribute {name!r}")
