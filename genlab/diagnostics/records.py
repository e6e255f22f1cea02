"""Save and load a run's History as small JSON (pre-recorded runs for labs live under data/gan_runs/)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from genlab.train.history import History


def _round(value: Any, digits: int) -> Any:
    if isinstance(value, float):
        return float(f"{value:.{digits}g}") if math.isfinite(value) else str(value)  # "nan"/"inf" stay readable
    if isinstance(value, dict):
        return {k: _round(v, digits) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_round(v, digits) for v in value]
    if hasattr(value, "item"):  # NumPy scalars
        return _round(value.item(), digits)
    return value


def _unround(value: Any) -> Any:
    if isinstance(value, str) and value in ("nan", "inf", "-inf"):
        return float(value)
    if isinstance(value, dict):
        return {k: _unround(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unround(v) for v in value]
    return value


def thin(history: History, max_points: int = 1000) -> History:
    """Keep about ``max_points`` train steps (every k-th, always the last and any non-finite one); evals all."""
    n = len(history.steps)
    k = max(1, math.ceil(n / max_points))
    keep = [i for i in range(n) if i % k == k - 1 or i == n - 1
            or any(not math.isfinite(v[i]) for v in history.metrics.values())]
    return History(steps=[history.steps[i] for i in keep],
                   metrics={name: [v[i] for i in keep] for name, v in history.metrics.items()},
                   evals=list(history.evals), wall_seconds=history.wall_seconds)


def save_history(history: History, path: str | Path, *, max_points: int = 1000, digits: int = 5,
                 info: dict | None = None) -> Path:
    """Write ``history`` (thinned to ``max_points`` steps, ``digits`` significant digits) and ``info`` as JSON."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {"info": info or {}, **thin(history, max_points).as_dict()}
    path.write_text(json.dumps(_round(data, digits), separators=(",", ":")))
    return path


def load_history(path: str | Path) -> History:
    """The History saved by :func:`save_history` (its ``info`` dict is available via :func:`load_info`)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no saved history at {path}: record one with genlab.diagnostics.records.save_history")
    data = _unround(json.loads(path.read_text()))
    data.pop("info", None)
    return History.from_dict(data)


def load_info(path: str | Path) -> dict:
    """The ``info`` dict stored beside a saved history (settings, seed, what the run shows)."""
    return json.loads(Path(path).read_text()).get("info", {})
