"""The shipped Fashion-MNIST reference classifier: the judge of generated 28x28x1 images.

    ref = reference_classifier()          # loads data/classifier/reference.{npz,json}; no training
    ref.predict(x)                        # [N] class ids of x: [N, 28, 28, 1] in [-1, 1]
    ref.features(x)                       # [N, F] penultimate features (the Fréchet-distance space)

Use ``predict`` with :func:`genlab.metrics.classes.class_stats` (classes covered, entropy, KL to
uniform) and ``features`` with :func:`genlab.metrics.frechet.frechet_distance` and ``real_floor``.
This module only loads and applies the network; it is trained by ``genlab.experiments.classifier``
(regenerate the shipped weights with ``genlab ship classifier``, a few minutes on 2 CPU cores).
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import jax
import numpy as np
from flax import nnx

from genlab.models.classifier import ClassifierConfig, ClassifierNet
from genlab.shipped import shipped
from genlab.train.batched import batched_apply
from genlab.train.checkpoint import load_weights, read_info, save_weights

DATA_DIR = shipped("classifier")
NAME = "reference"
REGENERATE = "genlab ship classifier"
CHUNK = 500  # images per forward pass


def save_reference(model: ClassifierNet, config: ClassifierConfig, info: dict[str, Any], out_dir: Path) -> Path:
    """Write ``out_dir/reference.npz`` (parameters) and ``reference.json`` (network config + report)."""
    import dataclasses

    return save_weights(model, out_dir, NAME, {"config": dataclasses.asdict(config), **info})


def load_model(folder: Path) -> tuple[ClassifierNet, ClassifierConfig, dict[str, Any]]:
    """Rebuild the network from ``folder/reference.{npz,json}``; a missing file raises FileNotFoundError naming
    the command that writes it."""
    info = read_info(folder, NAME, REGENERATE)
    fields = {k: tuple(v) if isinstance(v, list) else v for k, v in info.pop("config").items()}
    config = ClassifierConfig(**fields)
    model = load_weights(ClassifierNet.from_config(config, rngs=nnx.Rngs(0)), folder, NAME, REGENERATE)
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

        def logits_and_features(state, x):  # x: [B, 28, 28, 1]
            net = nnx.merge(graphdef, state)
            h = net.features(x)  # [B, F]
            return net.head(h), h

        self._apply = functools.partial(jax.jit(logits_and_features), state)

    @property
    def test_accuracy(self) -> float | None:
        return self.info.get("test_accuracy")

    def _run(self, x, chunk: int) -> tuple[np.ndarray, np.ndarray]:
        return batched_apply(self._apply, _as_images(x), chunk=chunk, pad=True)  # one compiled shape

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
