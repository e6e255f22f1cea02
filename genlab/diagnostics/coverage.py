"""Coverage of a generator during training: evaluations and the callbacks ``fit`` runs.

- 2D mixtures: the VEEGAN rules (shared/REFERENCES.md) through ``genlab.metrics.modes.mode_stats`` on 2,500
  samples by default (:func:`coverage_eval`, :func:`coverage_callback`, :class:`SampleRecorder`);
- images: the class histogram of samples by the shipped reference classifier (:func:`class_eval`,
  :func:`class_callback`).

Their dicts are what ``diagnose`` reads from ``history.evals``. Samples come from ``genlab.samplers.gan``.
"""

from __future__ import annotations

import math
from typing import Protocol

import jax
import numpy as np

from genlab.metrics.modes import mode_stats
from genlab.samplers.gan import sample

VISITED_SHARE = 0.25  # a mode is visited if >= 0.25/K of the samples have it as nearest mode
NUM_CLASSES = 10  # Fashion-MNIST
COVERED_SHARE = 0.1  # a class is covered when it gets more than 0.1/K of the samples


class Mixture(Protocol):
    """A Gaussian mixture with known modes: ``genlab.data.toy2d.RING8`` or your own ``toy2d.Mixture``."""

    centers: np.ndarray  # [K, 2]
    sigma: float
    # optional: weights [K] (summing to 1; a mode's fair share of the samples), as genlab.data.toy2d.Mixture has


def coverage_eval(G, mixture: Mixture, key: jax.Array, n: int = 2500) -> dict:
    """VEEGAN statistics of n samples of G against ``mixture``'s modes: modes_covered, n_modes,
    high_quality_fraction, covered [K] bool, and modes_visited / visited [K] bool: modes that are the nearest
    mode of at least a quarter of their fair share 1/K of the samples, whatever their quality (a blurry
    generator that sits on one mode visits one mode). With weights (your own ``toy2d.Mixture``) the fair share of
    mode k is its weight.

    A generator that has diverged (non-finite samples) scores 0 modes and 0 high quality.
    """
    if mixture.centers is None:
        raise ValueError("coverage needs a mixture with mode centres (ring8 or grid25)")
    x = np.asarray(sample(G, key, n))
    if not np.all(np.isfinite(x)):
        k = len(mixture.centers)
        return {"modes_covered": 0, "n_modes": k, "high_quality_fraction": 0.0, "modes_visited": 0,
                "covered": [False] * k, "visited": [False] * k}
    s = mode_stats(x, mixture.centers, mixture.sigma)
    share = np.bincount(s.nearest, minlength=s.num_modes) / n  # [K] fraction of samples nearest each mode
    weights = getattr(mixture, "weights", None)
    fair = np.full(s.num_modes, 1.0 / s.num_modes) if weights is None else np.asarray(weights, float)  # [K]
    visited = share >= VISITED_SHARE * fair
    return {"modes_covered": s.modes_covered, "n_modes": s.num_modes,
            "high_quality_fraction": s.high_quality_fraction,
            "modes_visited": int(np.sum(visited)),
            "covered": [bool(c) for c in s.covered],
            "visited": [bool(v) for v in visited]}


def coverage_callback(mixture: Mixture, key: jax.Array, n: int = 2500):
    """``cb(step, objects, history) -> coverage_eval(G, ...)`` with G = objects[0]; the same z every time."""

    def callback(step: int, objects: tuple, history) -> dict:
        return coverage_eval(objects[0], mixture, key, n)

    return callback


class SampleRecorder:
    """Callback that keeps ``n`` samples of G (the same z each time) per evaluation step, for figures.

    ``recorder.snapshots`` maps step -> [n, 2] NumPy array; nothing is written to the history.
    """

    def __init__(self, key: jax.Array, n: int = 500):
        self.key, self.n = key, n
        self.snapshots: dict[int, np.ndarray] = {}

    def __call__(self, step: int, objects: tuple, history) -> None:
        self.snapshots[step] = np.asarray(sample(objects[0], self.key, self.n))
        return None


# ------------------------------------------------------------------------------------------------ images
def class_eval(images: np.ndarray) -> dict:
    """Class statistics of ``images: [N, 28, 28, 1]`` by the reference classifier, in the keys diagnose reads:
    classes_covered, n_classes, class_entropy, kl_to_uniform, covered [K] bool, histogram [K]."""
    from genlab.metrics.classes import class_stats
    from genlab.metrics.reference import reference_classifier

    if not np.all(np.isfinite(images)):
        return {"classes_covered": 0, "n_classes": NUM_CLASSES, "class_entropy": 0.0,
                "kl_to_uniform": math.log(NUM_CLASSES), "covered": [False] * NUM_CLASSES,
                "histogram": [0.0] * NUM_CLASSES}
    s = class_stats(reference_classifier().predict(images), NUM_CLASSES, min_fraction=COVERED_SHARE / NUM_CLASSES)
    return {"classes_covered": s.classes_covered, "n_classes": NUM_CLASSES, "class_entropy": s.entropy + 0.0,
            "kl_to_uniform": s.kl_to_uniform, "covered": [bool(p > COVERED_SHARE / NUM_CLASSES) for p in s.histogram],
            "histogram": [round(float(p), 4) for p in s.histogram]}


def class_callback(key: jax.Array, n: int, recorder: dict[int, np.ndarray] | None = None, keep: int = 64):
    """``cb(step, objects, history)``: :func:`class_eval` of ``n`` samples of G = objects[0] (the same z each time).

    With ``recorder`` it also keeps the first ``keep`` samples per step there, for image grids.
    """

    def callback(step: int, objects: tuple, history) -> dict:
        x = np.asarray(sample(objects[0], key, n))
        if recorder is not None:
            recorder[step] = x[:keep]
        return class_eval(x)

    return callback
