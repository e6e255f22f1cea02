"""Mode coverage of a 2D generator during training: an evaluation and the callbacks ``fit`` runs.

The evaluation follows the VEEGAN rules (shared/REFERENCES.md) through ``genlab.metrics.modes.mode_stats``
on 2,500 samples by default. Its dict is what ``diagnose`` reads from ``history.evals``.
"""

from __future__ import annotations

import functools

import jax
import numpy as np
from flax import nnx

from genlab.data.toy2d import toy2d
from genlab.metrics.modes import mode_stats
from genlab.objectives.gan import generate

VISITED_SHARE = 0.25  # a mode is visited if >= 0.25/K of the samples have it as nearest mode


@functools.partial(nnx.jit, static_argnames="n")
def sample(G, key: jax.Array, n: int) -> jax.Array:
    """n samples G(z), z ~ N(0, I) (compiled): [n, ...]."""
    return generate(G, key, n)


def coverage_eval(G, dataset: str, key: jax.Array, n: int = 2500) -> dict:
    """VEEGAN statistics of n samples of G: modes_covered, n_modes, high_quality_fraction, covered [K] bool,
    and modes_visited / visited [K] bool: modes that are the nearest mode of at least a quarter of their fair
    share 1/K of the samples, whatever their quality (a blurry generator that sits on one mode visits one mode).

    A generator that has diverged (non-finite samples) scores 0 modes and 0 high quality.
    """
    data = toy2d(dataset)
    if data.centers is None:
        raise ValueError(f"2D set {dataset!r} has no mode centres: coverage needs ring8 or grid25")
    x = np.asarray(sample(G, key, n))
    if not np.all(np.isfinite(x)):
        k = len(data.centers)
        return {"modes_covered": 0, "n_modes": k, "high_quality_fraction": 0.0, "modes_visited": 0,
                "covered": [False] * k, "visited": [False] * k}
    s = mode_stats(x, data.centers, data.sigma)
    share = np.bincount(s.nearest, minlength=s.num_modes) / n  # [K] fraction of samples nearest each mode
    return {"modes_covered": s.modes_covered, "n_modes": s.num_modes,
            "high_quality_fraction": s.high_quality_fraction,
            "modes_visited": int(np.sum(share >= VISITED_SHARE / s.num_modes)),
            "covered": [bool(c) for c in s.covered],
            "visited": [bool(v) for v in share >= VISITED_SHARE / s.num_modes]}


def coverage_callback(dataset: str, key: jax.Array, n: int = 2500):
    """``cb(step, objects, history) -> coverage_eval(G, ...)`` with G = objects[0]; the same z every time."""

    def callback(step: int, objects: tuple, history) -> dict:
        return coverage_eval(objects[0], dataset, key, n)

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
