"""What the GAN experiments (``gan2d``, ``gan_fmnist``) share: a run record, building the two players, one
``fit`` that records a NaN instead of raising, the per-seed report, and the cached 2D step.

Every GAN config tree has the parts ``model``, ``objective`` (:class:`GANSettings`: the loss, penalties and
the PacGAN degree, stored once), ``optim_g``/``optim_d`` (:class:`OptimConfig`) and ``train``.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import Any

import jax
import numpy as np
from flax import nnx

from genlab.diagnostics.gan import Finding
from genlab.objectives.gan import GANSettings, SampleReal, make_gan_step
from genlab.train import fit
from genlab.train.configs import TrainConfig
from genlab.train.engine import NonFiniteError
from genlab.train.history import History
from genlab.train.optim import OptimConfig, make_optimizer


def gan_adam(learning_rate: float, **changes) -> OptimConfig:
    """Adam at a constant rate with DCGAN's β1 = 0.5 (``changes``: b2, a final decay, ...)."""
    return OptimConfig(learning_rate=learning_rate, schedule="constant", b1=0.5, **changes)


@dataclasses.dataclass
class GANRun:
    """A finished (or stopped) run: the networks, its history, final metrics, findings, sample snapshots."""

    config: Any  # the experiment's config tree
    G: nnx.Module
    D: nnx.Module
    history: History
    final: dict  # the experiment's final evaluation of G
    findings: list[Finding]
    snapshots: dict[int, np.ndarray]  # step -> samples (the same z every time); {} when not recorded
    seconds: float
    error: NonFiniteError | None = None


def build_players(build: Callable, config, seed: int) -> tuple:
    """``(G, D, opt_g, opt_d)``: ``build(config.model, key(seed), pack)`` and an optimiser for each player."""
    G, D = build(config.model, jax.random.key(seed), pack=config.objective.pack)
    steps = config.train.steps
    return G, D, make_optimizer(G, config.optim_g, steps), make_optimizer(D, config.optim_d, steps)


def fit_gan(objects: tuple, step, batches, train: TrainConfig, key: jax.Array, *, callbacks: list,
            every: int, **fit_options) -> tuple[History, NonFiniteError | None, float]:
    """``fit`` for ``train.steps`` steps, callbacks every ``every`` steps; a NaN ends the run instead of raising.

    Returns ``(history, error or None, seconds)``.
    """
    start, error = time.perf_counter(), None
    try:
        history = fit(objects, step, batches, steps=train.steps, key=key, callbacks=callbacks, callback_every=every,
                      log_every=train.log_every, **fit_options)
    except NonFiniteError as err:
        history, error = err.history, err
    return history, error, time.perf_counter() - start


def run_record(run: GANRun) -> dict:
    """The per-seed fields every GAN experiment reports after its own numbers."""
    return {"seconds": round(run.seconds, 1), "findings": [f.kind for f in run.findings],
            "stopped_non_finite": run.error is not None}


def cached_gan_step(objects: tuple, settings: GANSettings, sample_real: SampleReal | None = None):
    """The GAN step with its graph traversal cached for these objects (``nnx.cached_partial``): about 6x less
    Python overhead per step, which dominates for 2D MLPs. Only valid for exactly ``(G, D, opt_g, opt_d)``."""
    cached = nnx.cached_partial(make_gan_step(settings, sample_real), *objects)

    def step(*args):
        *objs, batch, key = args
        if len(objs) != len(objects) or any(a is not b for a, b in zip(objs, objects)):
            raise ValueError("cached_gan_step was built for other objects: build it with the objects you train")
        return cached(batch, key)

    return step
