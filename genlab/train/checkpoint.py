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


# --------------------------------------------------------------------------- shipped weights (npz + json)
# Trained models that ship in data/ (reference classifier, text encoder, VAE, ...) are saved as one
# compressed ``NAME.npz`` of float parameters keyed by their NNX path and one ``NAME.json`` holding the
# config and a report. Small, readable without Orbax, and loadable offline from the wheel.


def _flat_params(model) -> dict[str, Any]:
    import numpy as np

    leaves, _ = jax.tree_util.tree_flatten_with_path(nnx.state(model, nnx.Param))
    return {jax.tree_util.keystr(path): np.asarray(leaf) for path, leaf in leaves}


def save_weights(model, folder: str | Path, name: str, info: dict[str, Any]) -> Path:
    """Write ``folder/name.npz`` (every ``nnx.Param`` of ``model``) and ``folder/name.json`` (``info``:
    the config as a dict under ``"config"`` and whatever report goes with it). Returns the npz path."""
    import numpy as np

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(folder / f"{name}.npz", **_flat_params(model))
    (folder / f"{name}.json").write_text(json.dumps(info, indent=2) + "\n")
    return folder / f"{name}.npz"


def read_info(folder: str | Path, name: str, regenerate: str) -> dict[str, Any]:
    """``folder/name.json``; a missing file raises FileNotFoundError naming ``regenerate`` (the command that
    writes it)."""
    folder = Path(folder)
    missing = [p for p in (folder / f"{name}.npz", folder / f"{name}.json") if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"shipped weights missing: {', '.join(map(str, missing))}. "
                                f"Regenerate them with `{regenerate}`.")
    return json.loads((folder / f"{name}.json").read_text())


def load_weights(model, folder: str | Path, name: str, regenerate: str):
    """Load ``folder/name.npz`` into ``model`` (built from the config in ``name.json``) in place; returns it.

    A file that does not match the network (other parameter names) raises ValueError naming ``regenerate``.
    """
    import jax.numpy as jnp
    import numpy as np

    path = Path(folder) / f"{name}.npz"
    read_info(folder, name, regenerate)
    leaves, treedef = jax.tree_util.tree_flatten_with_path(nnx.state(model, nnx.Param))
    names = [jax.tree_util.keystr(p) for p, _ in leaves]
    with np.load(path) as saved:
        if set(names) != set(saved.files):
            raise ValueError(f"{path} does not match the network in {path.with_suffix('.json')} "
                             f"(expected {len(names)} arrays, found {len(saved.files)}); regenerate with "
                             f"`{regenerate}`")
        arrays = [jnp.asarray(saved[n]) for n in names]
    nnx.update(model, jax.tree_util.tree_unflatten(treedef, arrays))
    return model
