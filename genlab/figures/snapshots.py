"""Reading recorded runs for figures: which snapshot steps to show, and the evaluation at a step."""

from __future__ import annotations

import numpy as np

from genlab.train.history import History


def evenly_spaced_steps(snapshots: dict[int, np.ndarray], panels: int, hint: str) -> list[int]:
    """At most ``panels`` recorded steps, evenly spaced from the first to the last; ``hint`` says how to record."""
    if not snapshots:
        raise ValueError(f"no snapshots: {hint}")
    steps = sorted(snapshots)
    return [steps[int(round(i))] for i in np.linspace(0, len(steps) - 1, min(panels, len(steps)))]


def eval_at(history: History | None, step: int) -> dict:
    """The evaluation ``history`` recorded at ``step`` ({} when there is none)."""
    if history is None:
        return {}
    return next((e for e in history.evals if e["step"] == step), {})
