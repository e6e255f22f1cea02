"""``genlab eval unet-skip``: what the U-Net's skip connections buy a denoiser, noise level by noise level.

The same U-Net is trained twice on Fashion-MNIST to map ``x0 + sigma * eps`` back to ``x0`` (predicting
``x0``, told ``sigma`` through its time input; :mod:`genlab.objectives.denoise`): once with skip
connections and once without (the decoder gets zeros in their place: same parameters, same decoder).
Same seed, same initial weights, same batches, same noise, same number of steps. Then both denoise the
same noisy test images at each ``sigma`` in ``eval_sigmas`` and we report the PSNR of the result, the
noisy input's PSNR as a baseline, and the gap (skip minus no skip) per level.

Expectation (the lecture's claim): the gap is largest at low noise, where the answer is the fine detail
that only the skips carry past the 7x7 bottleneck; at high noise both must guess detail anyway.
"""

from __future__ import annotations

import dataclasses
import functools
import time
from typing import Any

import jax
import numpy as np
from flax import nnx

from genlab.data.batches import image_batches
from genlab.data.images import load_images
from genlab.experiments import register
from genlab.metrics.psnr import psnr
from genlab.models import num_params
from genlab.models.unet import UNet, UNetConfig
from genlab.objectives.denoise import denoise_loss
from genlab.samplers.denoise import denoise_images, noisy_copies
from genlab.train import History, fit
from genlab.train.configs import TrainConfig
from genlab.train.keys import eval_key
from genlab.train.optim import OptimConfig, make_optimizer
from genlab.train.steps import make_train_step

ARMS = ("skip", "no_skip")  # the two models, in the order they are reported


@dataclasses.dataclass(frozen=True)
class DenoiseObjective:
    """Training noise levels: log-uniform in [sigma_min, sigma_max] (t = sigma; genlab.objectives.denoise)."""

    sigma_min: float = 0.05
    sigma_max: float = 1.0


@dataclasses.dataclass(frozen=True)
class DenoiseEval:
    sigmas: tuple[float, ...] = (0.1, 0.2, 0.4, 0.8)
    images: int = 500  # from the test split


@dataclasses.dataclass(frozen=True)
class UNetSkipConfig:
    """One denoiser training and its evaluation; both arms (skip, no skip) use exactly these settings."""

    model: UNetConfig = UNetConfig(channels=(16, 32, 64), time_dim=64, mid_attention=False)  # bottleneck 7x7x64
    objective: DenoiseObjective = DenoiseObjective()
    optim: OptimConfig = OptimConfig(learning_rate=2e-3, warmup_steps=50, clip_norm=1.0)  # adam, warmup + cosine
    train: TrainConfig = TrainConfig(steps=300, batch_size=32)
    eval: DenoiseEval = DenoiseEval()

    @classmethod
    def tiny(cls) -> UNetSkipConfig:
        return cls(model=dataclasses.replace(UNetConfig.tiny(), mid_attention=False),
                   optim=OptimConfig(learning_rate=2e-3, warmup_steps=5, clip_norm=1.0),
                   train=TrainConfig(steps=20, batch_size=8, examples=256), eval=DenoiseEval(images=16))

    @classmethod
    def cpu(cls) -> UNetSkipConfig:
        return cls()

    @classmethod
    def gpu(cls) -> UNetSkipConfig:
        return cls(model=UNetConfig.gpu(), optim=OptimConfig(learning_rate=1e-3, warmup_steps=500, clip_norm=1.0),
                   train=TrainConfig(steps=10_000, batch_size=128), eval=DenoiseEval(images=10_000))


def train_denoiser(config: UNetSkipConfig, images: np.ndarray, *, skip: bool, seed: int,
                   progress: bool = False) -> tuple[UNet, History]:
    """Train a U-Net denoiser on ``images: [N, 28, 28, 1]``. Weights, batches and noise depend only on
    ``seed``: the skip and no-skip models start from the same weights and see the same data."""
    k_init, k_train = jax.random.split(jax.random.key(seed))
    model = UNet(dataclasses.replace(config.model, skip=skip), rngs=nnx.Rngs(params=k_init))
    optimizer = make_optimizer(model, config.optim, config.train.steps)
    loss_fn = functools.partial(denoise_loss, sigma_min=config.objective.sigma_min,
                                sigma_max=config.objective.sigma_max)
    history = fit((model, optimizer), make_train_step(loss_fn),
                  image_batches(images, batch_size=config.train.batch_size, seed=seed),
                  steps=config.train.steps, key=k_train, log_every=config.train.log_every, progress=progress,
                  desc=f"denoiser ({'skip' if skip else 'no skip'})")
    return model, history


def evaluate(models: dict[str, UNet], images: np.ndarray, sigmas, key: jax.Array) -> dict[str, Any]:
    """Mean PSNR (dB, range [-1, 1]) per noise level: ``{"sigma=0.1": {"noisy": .., name: .., ...}}``."""
    noisy = noisy_copies(images, sigmas, key)
    table = {}
    for s in sigmas:
        row = {"noisy": float(np.mean(psnr(noisy[s], images)))}
        for name, model in models.items():
            row[name] = float(np.mean(psnr(denoise_images(model, noisy[s], s), images)))
        table[f"sigma={s:g}"] = row
    return table


def summarize(tables: list[dict[str, Any]], sigmas) -> dict[str, Any]:
    """Mean over seeds of each number, the gap per level, and where the gap is largest."""
    out = {}
    for s in sigmas:
        k = f"sigma={s:g}"
        row = {name: round(float(np.mean([t[k][name] for t in tables])), 2) for name in tables[0][k]}
        gaps = [t[k]["skip"] - t[k]["no_skip"] for t in tables]
        row["gap_db"] = round(float(np.mean(gaps)), 2)
        if len(tables) > 1:
            row["gap_db_std"] = round(float(np.std(gaps)), 2)
        out[k] = row
    largest = max(sigmas, key=lambda s: out[f"sigma={s:g}"]["gap_db"])
    return {"psnr_db": out, "gap_db": [out[f"sigma={s:g}"]["gap_db"] for s in sigmas],
            "largest_gap_at_sigma": largest}


@register("unet-skip", config=UNetSkipConfig, default_seeds=1,
          description="U-Net denoiser on Fashion-MNIST with vs without skip connections: PSNR per noise level")
def run(config: UNetSkipConfig, seeds: list[int]) -> dict[str, Any]:
    train = load_images("fashion_mnist", "train")
    test = load_images("fashion_mnist", "test")
    train_x = config.train.subset(train.images)
    test_x = test.images[: config.eval.images]
    sigmas = config.eval.sigmas
    tables, losses, seconds = [], {a: [] for a in ARMS}, {a: [] for a in ARMS}
    params = None
    for seed in seeds:
        models = {}
        for name in ARMS:
            t0 = time.perf_counter()
            models[name], history = train_denoiser(config, train_x, skip=name == "skip", seed=seed)
            seconds[name].append(round(time.perf_counter() - t0, 1))
            losses[name].append(float(np.mean(history.metrics["loss"][-20:])))
        params = {n: num_params(m) for n, m in models.items()}
        tables.append(evaluate(models, test_x, sigmas, eval_key(seed)))
    return {
        **summarize(tables, sigmas),
        "sigmas": list(sigmas),
        "final_train_mse": {n: round(float(np.mean(v)), 5) for n, v in losses.items()},
        "num_params": params,
        "steps": config.train.steps,
        "batch_size": config.train.batch_size,
        "train_seconds": seconds,
        "train_source": train.source,
        "num_train": len(train_x),
        "num_eval": len(test_x),
    }
