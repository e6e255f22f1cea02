"""One training engine: ``fit`` (jit steps, history, callbacks, NaN guard, checkpoints, data parallelism)."""

from genlab.train.engine import History, NonFiniteError, fit

__all__ = ["History", "NonFiniteError", "fit"]
