"""The metric history of a training run: a light module (NumPy only) that figures and diagnostics read."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np


@dataclasses.dataclass
class History:
    """Metrics kept on the host. ``metrics[name][i]`` belongs to train step ``steps[i]`` (1-based count of
    steps done); ``evals`` holds what callbacks returned, each dict with its ``step``."""

    steps: list[int] = dataclasses.field(default_factory=list)
    metrics: dict[str, list[float]] = dataclasses.field(default_factory=dict)
    evals: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    wall_seconds: float = 0.0

    def append(self, step: int, values: dict[str, float]) -> None:
        self.steps.append(step)
        for name, value in values.items():
            self.metrics.setdefault(name, []).append(value)

    def series(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """``(steps, values)`` of a train metric or of a callback result named ``name``."""
        if name in self.metrics:
            return np.asarray(self.steps), np.asarray(self.metrics[name], dtype=float)
        rows = [(e["step"], e[name]) for e in self.evals if name in e]
        if not rows:
            known = sorted(set(self.metrics) | {k for e in self.evals for k in e if k != "step"})
            raise KeyError(f"no metric {name!r} in this history; it has: {', '.join(known)}")
        steps, values = zip(*rows)
        return np.asarray(steps), np.asarray(values)

    def last(self, name: str) -> Any:
        return self.series(name)[1][-1]

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> History:
        return cls(**data)
