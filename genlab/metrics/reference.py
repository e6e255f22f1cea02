"""The shipped Fashion-MNIST reference classifier: the judge of generated 28x28x1 images.

    ref = reference_classifier()          # loads data/classifier/reference.{npz,json}; no training
    ref.predict(x)                        # [N] class ids of x: [N, 28, 28, 1] in [-1, 1]
    ref.features(x)                       # [N, F] penultimate features (the Fréchet-distance space)

Use ``predict`` with :func:`genlab.metrics.classes.class_stats` (classes covered, entropy, KL to
uniform) and ``features`` with :func:`genlab.metrics.frechet.frechet_distance` and ``real_floor``.

Regenerate the weights (about a few minutes on 2 CPU cores; writes data/classifier/):
    python -m genlab.metrics.reference --train [--preset cpu] [--source local|embedded]
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from genlab.models.classifier import ClassifierConfig, ClassifierNet
from genlab.shipped import shipped

DATA_DIR = shipped("classifier")
WEIGHTS, INFO = "reference.npz", "reference.json"
REGENERATE = "python -m genlab.metrics.reference --train"
CHUNK = 500  # images per forward pass


def _flat_params(model: ClassifierNet) -> dict[str, np.ndarray]:
    leaves, _ = jax.tree_util.tree_flatten_with_path(nnx.state(model, nnx.Param))
    return {jax.tree_util.keystr(path): np.asarray(leaf) for path, leaf in leaves}


def save_reference(model: ClassifierNet, config: ClassifierConfig, info: dict[str, Any], out_dir: Path) -> Path:
    """Write ``out_dir/reference.npz`` (parameters, float32) and ``reference.json`` (config + report)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out_dir / WEIGHTS, **_flat_params(model))
    payload = {"config": dataclasses.asdict(config), **info}
    (out_dir / INFO).write_text(json.dumps(payload, indent=2) + "\n")
    return out_dir / WEIGHTS


def load_model(folder: Path) -> tuple[ClassifierNet, ClassifierConfig, dict[str, Any]]:
    """Rebuild the network from ``folder/reference.{npz,json}``; raises FileNotFoundError naming the fix."""
    folder = Path(folder)
    missing = [p for p in (folder / WEIGHTS, folder / INFO) if not p.is_file()]
    if missing:
        raise FileNotFoundError(
            f"reference classifier weights missing: {', '.join(map(str, missing))}. "
            f"Regenerate them with `{REGENERATE}` (trains for a few minutes on CPU)."
        )
    info = json.loads((folder / INFO).read_text())
    fields = {k: tuple(v) if isinstance(v, list) else v for k, v in info.pop("config").items()}
    config = ClassifierConfig(**fields)
    model = ClassifierNet.from_config(config, rngs=nnx.Rngs(0))
    state = nnx.state(model, nnx.Param)
    leaves, treedef = jax.tree_util.tree_flatten_with_path(state)
    with np.load(folder / WEIGHTS) as saved:
        names = [jax.tree_util.keystr(path) for path, _ in leaves]
        if set(names) != set(saved.files):
            raise ValueError(
                f"{folder / WEIGHTS} does not match the network in {folder / INFO} "
                f"(expected {len(names)} arrays, found {len(saved.files)}); regenerate with `{REGENERATE}`"
            )
        arrays = [jnp.asarray(saved[name]) for name in names]
    nnx.update(model, jax.tree_util.tree_unflatten(treedef, arrays))
    return model, config, info


def _as_images(x) -> np.ndarray:
    x = np.asarray(x, np.float32)
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4 or x.shape[1:] != (28, 28, 1):
        raise ValueError(f"the reference classifier takes images [N, 28, 28, 1] (or [N, 28, 28]), got {x.shape}")
    if x.size and (x.min() < -1.5 or x.max() > 1.5):
        raise ValueError(
            f"images range over [{x.min():.3g}, {x.max():.3g}]; the reference classifier expects [-1, 1] "
            "(uint8 pixels p -> p / 127.5 - 1)"
        )
    return x


class ReferenceClassifier:
    """A frozen trained :class:`ClassifierNet` with batched, jitted ``predict``/``features``/``logits``."""

    def __init__(self, model: ClassifierNet, config: ClassifierConfig, info: dict[str, Any]):
        self.config, self.info = config, info
        graphdef, state = nnx.split(model)
        self._state = state

        def logits_and_features(state, x):  # x: [B, 28, 28, 1]
            net = nnx.merge(graphdef, state)
            h = net.features(x)  # [B, F]
            return net.head(h), h

        self._apply = jax.jit(logits_and_features)

    @property
    def test_accuracy(self) -> float | None:
        return self.info.get("test_accuracy")

    def _run(self, x, chunk: int) -> tuple[np.ndarray, np.ndarray]:
        x = _as_images(x)
        n = x.shape[0]
        logits, feats = [], []
        for start in range(0, n, chunk):
            part = x[start : start + chunk]
            pad = chunk - part.shape[0] if n > chunk else 0  # one compiled shape for every chunk
            if pad:
                part = np.concatenate([part, np.zeros((pad, *part.shape[1:]), np.float32)])
            lg, ft = self._apply(self._state, jnp.asarray(part))
            logits.append(np.asarray(lg)[: chunk - pad])
            feats.append(np.asarray(ft)[: chunk - pad])
        if not logits:
            return np.zeros((0, self.config.num_classes), np.float32), np.zeros((0, self.config.features), np.float32)
        return np.concatenate(logits), np.concatenate(feats)

    def logits(self, x, chunk: int = CHUNK) -> np.ndarray:
        """Class logits ``[N, 10]`` of ``x: [N, 28, 28, 1]`` in [-1, 1]."""
        return self._run(x, chunk)[0]

    def predict(self, x, chunk: int = CHUNK) -> np.ndarray:
        """Class ids ``[N]`` (int64) of ``x: [N, 28, 28, 1]`` in [-1, 1]."""
        return np.argmax(self._run(x, chunk)[0], axis=-1)

    def features(self, x, chunk: int = CHUNK) -> np.ndarray:
        """Penultimate features ``[N, F]`` of ``x: [N, 28, 28, 1]`` in [-1, 1] (for Fréchet distances)."""
        return self._run(x, chunk)[1]


@functools.lru_cache(maxsize=1)
def reference_classifier() -> ReferenceClassifier:
    """The shipped reference classifier (loaded once per process from ``data/classifier/``)."""
    return ReferenceClassifier(*load_model(DATA_DIR))


def train_reference(preset: str = "cpu", source: str | None = None, out_dir: Path = DATA_DIR) -> dict[str, Any]:
    """Train the reference classifier at ``preset`` on ``source`` (None: best available) and save it."""
    from genlab.experiments.classifier import train_and_evaluate
    from genlab.presets import config_for

    config = config_for(ClassifierConfig, preset)
    model, report = train_and_evaluate(config, source)
    save_reference(model, config, {"preset": preset, **report}, out_dir)
    reference_classifier.cache_clear()
    return report


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m genlab.metrics.reference", description=__doc__.split("\n")[0])
    p.add_argument("--train", action="store_true", help=f"train and write {DATA_DIR}/{WEIGHTS} and {INFO}")
    p.add_argument("--preset", default="cpu", choices=("tiny", "cpu", "gpu"))
    p.add_argument("--source", default=None, choices=("local", "embedded", "tfds"))
    p.add_argument("--out", type=Path, default=DATA_DIR)
    args = p.parse_args(argv)
    if args.train:
        print(json.dumps(train_reference(args.preset, args.source, args.out)))
    else:
        ref = ReferenceClassifier(*load_model(args.out))
        print(json.dumps({k: v for k, v in ref.info.items()}, indent=2))


if __name__ == "__main__":
    main()
