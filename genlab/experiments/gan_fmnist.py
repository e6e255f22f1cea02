"""``genlab eval gan-fmnist``: a small DCGAN on Fashion-MNIST, a run that collapses and its fix.

Every run trains G and D (:mod:`genlab.models.gan.dcgan`) with the one shared GAN step
(:func:`genlab.objectives.gan.gan_train_step`) through :func:`genlab.train.fit`. Every ``eval_every``
steps a callback classifies ``n_track`` samples (the same z each time) with the shipped reference
classifier and records the class histogram; ``genlab.diagnostics.gan.diagnose`` reads those evaluations
and the train metrics (D(x), D(G(z)), gradient norms) at the end.

Variants (``--variant``), all unconditional unless named otherwise:
    vanilla      VANILLA below: the saturating minimax loss of Goodfellow 2014. With a discriminator that
                 learns faster than the generator (lr_d = 4 lr_g in every variant) D wins at once, G's
                 gradient vanishes (−D(G(z)) -> 0) and every z maps to nearly the same blob: collapse.
    fixed        FIXED below: non-saturating loss + R1 (γ = 1, Mescheder 2018) + minibatch standard
                 deviation in D (Karras 2018). Same networks, optimiser, learning rates, data and steps.
    conditional  the fixed recipe with a class-conditional G (label embedding) and a projection D,
                 sampled with uniform labels: a fix by construction, reported beside the unconditional one.

Final metrics on ``n_eval`` samples: classes covered (a class counts when it gets more than a tenth of its
fair share, 1 %), class entropy and KL to uniform, and the Fréchet distance in the reference classifier's
feature space beside the real-versus-real floor at the same sample count.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from genlab.diagnostics.gan import Finding, diagnose
from genlab.experiments import register, register_demo
from genlab.models.gan.dcgan import DCGANConfig, Discriminator, Generator
from genlab.objectives.gan import GANSettings, make_gan_step
from genlab.presets import config_for
from genlab.train.engine import History, NonFiniteError, fit

VARIANTS = ("fixed", "vanilla", "conditional")
NUM_CLASSES = 10
COVERED_SHARE = 0.1  # a class is covered when it gets more than 0.1/K of the samples
ENTROPY_TARGET = 0.95 * math.log(NUM_CLASSES)  # issue 4, target 4

# The two recipes, as overrides of GanFmnistConfig fields (see the module docstring).
VANILLA = {"loss": "minimax", "r1_gamma": 0.0, "minibatch_std": False}
FIXED = {"loss": "non_saturating", "r1_gamma": 1.0, "minibatch_std": True}
RECIPES = {"vanilla": VANILLA, "fixed": FIXED, "conditional": {**FIXED, "num_classes": NUM_CLASSES}}


@dataclasses.dataclass(frozen=True)
class GanFmnistConfig:
    """One image-GAN run. The recipe fields (loss .. num_classes) are set per variant by :func:`for_variant`."""

    # networks (see DCGANConfig)
    latent_dim: int = 64
    g_channels: tuple[int, int] = (64, 32)
    d_channels: tuple[int, int] = (32, 64)
    embed_dim: int = 16
    # recipe
    loss: str = "non_saturating"
    r1_gamma: float = 0.0
    minibatch_std: bool = False
    pack: int = 1
    n_critic: int = 1
    num_classes: int = 0  # > 0: class-conditional G and projection D
    # optimisation: Adam with DCGAN's β1 = 0.5; a strong D (4x G's learning rate) in every variant
    steps: int = 2000
    batch_size: int = 64
    lr_g: float = 5e-4
    lr_d: float = 2e-3
    beta1: float = 0.5
    beta2: float = 0.99
    # data and evaluation
    data_limit: int | None = None  # train on the first N images (None: all)
    eval_every: int = 250  # class-histogram callback period (steps)
    n_track: int = 500  # samples per tracked histogram
    n_eval: int = 2000  # samples for the final class statistics and Fréchet distance

    @classmethod
    def tiny(cls) -> GanFmnistConfig:
        return cls(latent_dim=8, g_channels=(8, 4), d_channels=(4, 8), embed_dim=4, steps=6, batch_size=8,
                   data_limit=256, eval_every=2, n_track=40, n_eval=60)

    @classmethod
    def cpu(cls) -> GanFmnistConfig:
        """Measured on 2 quiet CPU cores (2026-11-25): fixed 4.1 min per seed, vanilla 2.7 min (R1's double
        backward costs ≈ 1.6x a plain step); conditional ≈ 5.5 min nearly idle."""
        return cls()

    @classmethod
    def gpu(cls) -> GanFmnistConfig:
        return cls(latent_dim=128, g_channels=(256, 128), d_channels=(64, 128), embed_dim=32, steps=10_000,
                   batch_size=128, lr_g=2e-4, lr_d=8e-4, eval_every=500, n_eval=10_000 // 2)

    def model(self) -> DCGANConfig:
        return DCGANConfig(latent_dim=self.latent_dim, g_channels=self.g_channels, d_channels=self.d_channels,
                           num_classes=self.num_classes, embed_dim=self.embed_dim,
                           minibatch_std=self.minibatch_std, pack=self.pack)

    def settings(self) -> GANSettings:
        return GANSettings(loss=self.loss, n_critic=self.n_critic, r1_gamma=self.r1_gamma, pack=self.pack)


def for_variant(config: GanFmnistConfig, variant: str) -> GanFmnistConfig:
    """``config`` with the recipe of ``variant`` (one of VARIANTS) applied."""
    if variant not in RECIPES:
        raise ValueError(f"unknown gan-fmnist variant {variant!r}: choose one of {', '.join(VARIANTS)}")
    return dataclasses.replace(config, **RECIPES[variant])


@dataclasses.dataclass
class GanFmnistRun:
    """A finished (or stopped) run: networks, history, final metrics, findings, image snapshots."""

    config: GanFmnistConfig
    G: Generator
    D: Discriminator
    history: History
    final: dict
    findings: list[Finding]
    snapshots: dict[int, np.ndarray]  # step -> [n, 28, 28, 1] samples (the same z every time)
    seconds: float
    error: NonFiniteError | None = None


# --- sampling and evaluation ---------------------------------------------------------------------


@functools.partial(nnx.jit, static_argnames="n")
def sample_images(G, key: jax.Array, n: int) -> jax.Array:
    """``n`` images ``[n, 28, 28, 1]`` of G; a conditional G gets uniform labels ``arange(n) % K``."""
    z = jax.random.normal(key, (n, G.latent_dim))
    if G.num_classes:
        return G(z, jnp.arange(n) % G.num_classes)
    return G(z)


def class_eval(images: np.ndarray) -> dict:
    """Class statistics of ``images: [N, 28, 28, 1]`` by the reference classifier, in the keys diagnose reads."""
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
    """``cb(step, objects, history)``: class statistics of ``n`` samples (the same z each time).

    With ``recorder`` it also keeps the first ``keep`` samples per step there, for image grids.
    """

    def callback(step: int, objects: tuple, history) -> dict:
        x = np.asarray(sample_images(objects[0], key, n))
        if recorder is not None:
            recorder[step] = x[:keep]
        return class_eval(x)

    return callback


def final_eval(G, images: np.ndarray, key: jax.Array, n: int, seed: int) -> dict:
    """Class statistics and Fréchet distance of ``n`` samples, with the real-vs-real floor at the same ``n``."""
    from genlab.metrics.classes import kl_floor
    from genlab.metrics.frechet import frechet_distance, real_floor
    from genlab.metrics.reference import reference_classifier

    ref = reference_classifier()
    fake = np.asarray(sample_images(G, key, n))
    out = {k: v for k, v in class_eval(fake).items() if k != "covered"}
    out["kl_floor"] = kl_floor(NUM_CLASSES, n)
    real = images[np.random.default_rng(seed).permutation(len(images))[: 2 * n]]  # [2n, 28, 28, 1]
    real_feats = ref.features(real)
    out["frechet"] = frechet_distance(ref.features(fake), real_feats[:n]) if np.all(np.isfinite(fake)) else math.inf
    out["frechet_real_floor"] = real_floor(real_feats, n, seed)
    return out


# --- training ------------------------------------------------------------------------------------


def build(config: GanFmnistConfig, seed: int):
    """``(G, D, opt_g, opt_d)`` initialised from ``seed``."""
    k_g, k_d = jax.random.split(jax.random.key(seed))
    model = config.model()
    G, D = Generator.from_config(model, rngs=nnx.Rngs(k_g)), Discriminator.from_config(model, rngs=nnx.Rngs(k_d))
    opt_g = nnx.Optimizer(G, optax.adam(config.lr_g, config.beta1, config.beta2), wrt=nnx.Param)
    opt_d = nnx.Optimizer(D, optax.adam(config.lr_d, config.beta1, config.beta2), wrt=nnx.Param)
    return G, D, opt_g, opt_d


def load_train_images(config: GanFmnistConfig):
    from genlab.data.images import load_images

    return load_images("fashion_mnist", "train", limit=config.data_limit)


def gan_batches(images: np.ndarray, labels: np.ndarray | None, batch_size: int, seed: int):
    """``batches(step) -> {"x": [B, 28, 28, 1], "label": [B]}`` (no label for an unconditional run)."""
    from genlab.data.batches import image_batches

    inner = image_batches(images, labels, batch_size=batch_size, seed=seed)

    def batches(step: int) -> dict:
        b = inner(step)
        return {"x": b["image"], **({"label": b["label"]} if "label" in b else {})}

    return batches


def train_gan_fmnist(config: GanFmnistConfig, seed: int, *, data=None, snapshots: bool = False,
                     progress: bool = False, run_dir=None) -> GanFmnistRun:
    """Train one seed, tracking class histograms; then the final evaluation and ``diagnose``.

    data: an ImageSet (default: Fashion-MNIST train). snapshots: keep 64 samples per evaluation step.
    A NaN stops the run; ``error`` then holds it and the final metrics describe the last weights.
    """
    data = data if data is not None else load_train_images(config)
    G, D, opt_g, opt_d = build(config, seed)
    k_train, k_track, k_eval = jax.random.split(jax.random.key(10_000 + seed), 3)
    recorder: dict[int, np.ndarray] | None = {} if snapshots else None
    track = class_callback(k_track, config.n_track, recorder)
    if recorder is not None:
        track(0, (G,), None)
    labels = data.labels if config.num_classes else None
    batches = gan_batches(data.images, labels, config.batch_size, seed)
    start, error = time.perf_counter(), None
    try:
        history = fit((G, D, opt_g, opt_d), make_gan_step(config.settings()), batches, steps=config.steps,
                      key=k_train, callbacks=[track], callback_every=config.eval_every,
                      log_every=min(config.eval_every, 100), progress=progress, run_dir=run_dir,
                      desc=f"gan-fmnist seed {seed}")
    except NonFiniteError as err:
        history, error = err.history, err
    seconds = time.perf_counter() - start
    final = final_eval(G, data.images, k_eval, config.n_eval, seed)
    return GanFmnistRun(config, G, D, history, final, diagnose(history), recorder or {}, seconds, error)


def _mean_std(values) -> tuple[float, float]:
    v = np.asarray(values, float)
    return float(v.mean()), float(v.std())


def summarise(runs: list[GanFmnistRun], seeds: list[int]) -> dict:
    """Mean and std over seeds of the final metrics, per-seed numbers and diagnose findings."""
    c = runs[0].config
    out: dict = {
        "recipe": {"loss": c.loss, "r1_gamma": c.r1_gamma, "minibatch_std": c.minibatch_std, "pack": c.pack,
                   "conditional": bool(c.num_classes), "lr_g": c.lr_g, "lr_d": c.lr_d, "steps": c.steps,
                   "batch_size": c.batch_size},
        "n_eval": c.n_eval,
        "entropy_target": ENTROPY_TARGET,
        "kl_floor": runs[0].final["kl_floor"],
    }
    for key in ("classes_covered", "class_entropy", "kl_to_uniform", "frechet", "frechet_real_floor"):
        out[f"{key}_mean"], out[f"{key}_std"] = _mean_std([r.final[key] for r in runs])
    out["seconds_per_seed"] = float(np.mean([r.seconds for r in runs]))
    out["per_seed"] = [
        {"seed": s, **{k: (round(v, 4) if isinstance(v, float) else v) for k, v in r.final.items()},
         "seconds": round(r.seconds, 1), "findings": [f.kind for f in r.findings],
         "stopped_non_finite": r.error is not None}
        for s, r in zip(seeds, runs)
    ]
    out["findings"] = [f"seed {s}: {f}" for s, r in zip(seeds, runs) for f in r.findings]
    return out


@register("gan-fmnist", description="DCGAN on Fashion-MNIST: classes covered, class entropy, Fréchet distance "
          "vs floor; vanilla (collapses) vs fixed (R1 + minibatch-stddev)", variants=VARIANTS, default_seeds=1)
def run(preset: str, seeds: list[int], variant: str | None) -> dict:
    config = for_variant(config_for(GanFmnistConfig, preset), variant or VARIANTS[0])
    data = load_train_images(config)
    runs = [train_gan_fmnist(config, seed, data=data) for seed in seeds]
    return {"data_source": data.source, "n_train_images": len(data), **summarise(runs, seeds)}


@register_demo("gan_fmnist", order=20)
def make_demo(preset: str, out_dir: Path) -> list[Path]:
    """Vanilla and fixed runs (seed 0): image grids and class histograms over training, D outputs, grad norms."""
    from genlab.figures.gan_images import class_histograms_over_training, grids_over_training
    from genlab.figures.gan2d import d_outputs_and_grad_norms

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    base = config_for(GanFmnistConfig, preset)
    data = load_train_images(base)
    runs = {v: train_gan_fmnist(for_variant(base, v), 0, data=data, snapshots=True) for v in ("vanilla", "fixed")}
    figures = {"gan_fmnist_class_histograms.png": class_histograms_over_training(
        {v: r.history for v, r in runs.items()}, data.class_names)}
    for v, r in runs.items():
        figures[f"gan_fmnist_{v}_samples.png"] = grids_over_training(r.snapshots, history=r.history,
                                                                     title=f"{v}: samples over training")
        figures[f"gan_fmnist_{v}_d_outputs.png"] = d_outputs_and_grad_norms(r.history, title=f"gan-fmnist {v}")
    written = []
    for name, fig in figures.items():
        fig.savefig(out_dir / name, dpi=110)
        written.append(out_dir / name)
    return written
