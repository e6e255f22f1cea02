"""Checkpoints behind two functions, ``save`` and ``restore`` (Orbax), so an API change touches one file.

A checkpoint is a folder ``<run_dir>/step_<N>/`` with the NNX state of every object being trained
(models and optimizers) in ``state/`` and a small ``meta.json`` (step, metric history, anything extra).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import jax
import orbax.checkpoint as ocp
from flax import nnx

_PREFIX = "step_"


def _step_dir(run_dir: Path, step: int) -> Path:
    return run_dir / f"{_PREFIX}{step:08d}"


def save(run_dir: str | Path, objects: tuple, step: int, meta: dict[str, Any] | None = None,
         keep: int = 2) -> Path:
    """Save the NNX state of ``objects`` at ``step``; keep the newest ``keep`` checkpoints. Returns the folder."""
    run_dir = Path(run_dir).absolute()
    path = _step_dir(run_dir, step)
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    checkpointer = ocp.StandardCheckpointer()
    checkpointer.save(path / "state", nnx.state(objects))
    checkpointer.wait_until_finished()
    (path / "meta.json").write_text(json.dumps({"step": step, **(meta or {})}))
    for old in all_checkpoints(run_dir)[:-keep] if keep > 0 else []:
        shutil.rmtree(old, ignore_errors=True)
    return path


def all_checkpoints(run_dir: str | Path) -> list[Path]:
    """Complete checkpoint folders under ``run_dir``, oldest first."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        return []
    found = [p for p in run_dir.glob(f"{_PREFIX}*") if (p / "meta.json").is_file()]
    return sorted(found, key=lambda p: int(p.name[len(_PREFIX):]))


def latest(run_dir: str | Path) -> Path | None:
    """The newest complete checkpoint under ``run_dir``, or ``None``."""
    found = all_checkpoints(run_dir)
    return found[-1] if found else None


def restore(path: str | Path, objects: tuple) -> dict[str, Any]:
    """Load the checkpoint at ``path`` into ``objects`` (in place) and return its ``meta.json``."""
    path = Path(path).absolute()
    if not (path / "meta.json").is_file():
        raise FileNotFoundError(
            f"no genlab checkpoint at {path}: expected a step_<N> folder with meta.json written by "
            "genlab.train.checkpoint.save (is the run directory right?)"
        )
    target = nnx.state(objects)
    abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, target)
    restored = ocp.StandardCheckpointer().restore(path / "state", abstract)
    nnx.update(objects, restored)
    return json.loads((path / "meta.json").read_text())
