"""2D GAN runs: one config, one ``train_gan2d`` used by the experiments, the demo and the labs.

The vanilla setup is the classic one of Metz et al. 2017 (unrolled GANs, §3.1) that VEEGAN and PacGAN
reuse: G = MLP 256 → 128 → 128 → 2 (ReLU), D = MLP 2 → 128 → 1 (ReLU), Adam (lr 1e-4, β1 = 0.5),
batch 512, the non-saturating loss.
"""

from __future__ import annotations

import dataclasses
import functools
import time

import jax
import numpy as np
import optax
from flax import nnx

from genlab.diagnostics.coverage import SampleRecorder, coverage_callback, coverage_eval
from genlab.diagnostics.gan import Finding, diagnose, diagnose_callback
from genlab.models.gan import MLPDiscriminator, MLPGenerator
from genlab.objectives.gan import GANSettings, gan_ema_train_step, make_gan_step
from genlab.train.engine import History, NonFiniteError, fit


@dataclasses.dataclass(frozen=True)
class Gan2DConfig:
    """Everything one 2D GAN run needs. Defaults: the vanilla (Metz 2017) setup on ring8."""

    dataset: str = "ring8"
    steps: int = 10_000
    loss: str = "non_saturating"
    n_critic: int = 1
    r1_gamma: float = 0.0
    gp_weight: float = 0.0
    pack: int = 1
    batch_size: int = 512
    latent_dim: int = 256
    g_width: int = 128
    g_depth: int = 2
    d_width: int = 128
    d_depth: int = 1
    d_activation: str = "relu"
    minibatch_std: bool = False
    g_out_init: float = 1.0  # scales G's initial output layer (0.01: every sample starts near the origin)
    data_scale: float = 1.0  # G's output is multiplied and D's input divided by this (networks work at unit scale)
    lr_g: float = 1e-4
    lr_d: float = 1e-4
    beta1: float = 0.5
    beta2: float = 0.999
    decay_from: float = 1.0  # fraction of the run after which both learning rates decay (cosine) ...
    final_lr: float = 1.0  # ... to this fraction of their value (a final low-lr phase sharpens the modes)
    ema: float = 0.0  # decay of an EMA of G's weights, evaluated instead of G (0: off)
    eval_every: int = 500
    n_eval: int = 2500  # samples per VEEGAN evaluation

    def settings(self) -> GANSettings:
        return GANSettings(loss=self.loss, n_critic=self.n_critic, r1_gamma=self.r1_gamma,
                           gp_weight=self.gp_weight, pack=self.pack, batch_size=self.batch_size,
                           dataset=self.dataset)


@dataclasses.dataclass
class Gan2DRun:
    """A finished (or stopped) 2D run: the networks (G is the EMA generator when ``config.ema`` > 0), its history,
    final coverage, findings, sample snapshots."""

    config: Gan2DConfig
    G: MLPGenerator
    D: MLPDiscriminator
    history: History
    final: dict  # coverage_eval of the final generator
    findings: list[Finding]
    snapshots: dict[int, np.ndarray]
    seconds: float
    error: NonFiniteError | None = None


def _schedule(lr: float, cfg: Gan2DConfig):
    start = int(cfg.decay_from * cfg.steps)
    if start >= cfg.steps or cfg.final_lr == 1.0:
        return lr
    decay = optax.cosine_decay_schedule(lr, cfg.steps - start, alpha=cfg.final_lr)
    return optax.join_schedules([optax.constant_schedule(lr), decay], [start])


def build(cfg: Gan2DConfig, seed: int):
    """(G, D, opt_g, opt_d) initialised from ``seed``."""
    k_g, k_d = jax.random.split(jax.random.key(seed))
    G = MLPGenerator(cfg.latent_dim, cfg.g_width, cfg.g_depth, 2, scale=cfg.data_scale, rngs=nnx.Rngs(k_g))
    D = MLPDiscriminator(2 * cfg.pack, cfg.d_width, cfg.d_depth, cfg.d_activation, cfg.minibatch_std,
                         scale=cfg.data_scale, rngs=nnx.Rngs(k_d))
    if cfg.g_out_init != 1.0:
        G.out.kernel[...] = cfg.g_out_init * G.out.kernel[...]
    opt_g = nnx.Optimizer(G, optax.adam(_schedule(cfg.lr_g, cfg), cfg.beta1, cfg.beta2), wrt=nnx.Param)
    opt_d = nnx.Optimizer(D, optax.adam(_schedule(cfg.lr_d, cfg), cfg.beta1, cfg.beta2), wrt=nnx.Param)
    return G, D, opt_g, opt_d


def cached_gan_step(objects: tuple, settings: GANSettings, ema: float = 0.0):
    """The GAN step with its graph traversal cached for these objects (``nnx.cached_partial``): about 6x less
    Python overhead per step, which dominates for 2D MLPs. Only valid for exactly these objects:
    ``(G, D, opt_g, opt_d)``, or ``(G_ema, G, D, opt_g, opt_d)`` when ``ema`` > 0."""
    if ema > 0:
        step_fn = functools.partial(gan_ema_train_step, settings=settings, decay=ema)
    else:
        step_fn = make_gan_step(settings)
    cached = nnx.cached_partial(step_fn, *objects)

    def step(*args):
        *objs, batch, key = args
        if len(objs) != len(objects) or any(a is not b for a, b in zip(objs, objects)):
            raise ValueError("cached_gan_step was built for other objects: build it with the objects you train")
        return cached(batch, key)

    return step


def train_gan2d(cfg: Gan2DConfig, seed: int, *, snapshots: int = 0, live_diagnose: bool = False,
                progress: bool = False, run_dir=None) -> Gan2DRun:
    """Train one seed; evaluate VEEGAN coverage every ``cfg.eval_every`` steps and at the end.

    snapshots: keep that many samples per evaluation for figures (0: none).
    live_diagnose: print diagnose findings while training. A NaN stops the run; ``error`` then holds it.
    """
    G, D, opt_g, opt_d = build(cfg, seed)
    objects = (G, D, opt_g, opt_d)
    if cfg.ema > 0:  # evaluate (and return) the weight average: it goes first, where callbacks look for G
        objects = (nnx.clone(G),) + objects
    k_train, k_eval, k_snap = jax.random.split(jax.random.key(10_000 + seed), 3)
    callbacks = [coverage_callback(cfg.dataset, k_eval, cfg.n_eval)]
    recorder = SampleRecorder(k_snap, snapshots) if snapshots else None
    if recorder:
        callbacks.append(recorder)
        recorder(0, objects, None)
    if live_diagnose:
        callbacks.append(diagnose_callback())
    start, error = time.perf_counter(), None
    try:
        step = cached_gan_step(objects, cfg.settings(), cfg.ema)
        history = fit(objects, step, None, steps=cfg.steps, key=k_train, callbacks=callbacks,
                      callback_every=cfg.eval_every, log_every=max(cfg.eval_every, 100), progress=progress,
                      desc=f"gan {cfg.dataset} seed {seed}", run_dir=run_dir)
    except NonFiniteError as err:
        history, error = err.history, err
    seconds = time.perf_counter() - start
    G = objects[0]
    final = coverage_eval(G, cfg.dataset, k_eval, cfg.n_eval)
    return Gan2DRun(cfg, G, D, history, final, diagnose(history), recorder.snapshots if recorder else {},
                    seconds, error)


def summarise(runs: list[Gan2DRun], seeds: list[int]) -> dict:
    """Mean and std over seeds of modes covered and high-quality fraction, per-seed numbers and findings."""
    modes = np.array([r.final["modes_covered"] for r in runs], float)
    hq = np.array([r.final["high_quality_fraction"] for r in runs], float)
    return {
        "dataset": runs[0].config.dataset,
        "n_modes": runs[0].final["n_modes"],
        "modes_covered_mean": float(modes.mean()),
        "modes_covered_std": float(modes.std()),
        "high_quality_mean": float(hq.mean()),
        "high_quality_std": float(hq.std()),
        "per_seed": [
            {"seed": s, "modes_covered": int(r.final["modes_covered"]),
             "high_quality_fraction": round(float(r.final["high_quality_fraction"]), 4),
             "seconds": round(r.seconds, 1), "findings": [f.kind for f in r.findings],
             "stopped_non_finite": r.error is not None}
            for s, r in zip(seeds, runs)
        ],
        "seconds_per_seed": float(np.mean([r.seconds for r in runs])),
    }
