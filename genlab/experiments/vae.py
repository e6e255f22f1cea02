"""``genlab eval vae-fmnist``: a VAE that compresses 28x28x1 Fashion-MNIST into 7x7x4 latents.

Trains :class:`genlab.models.vae.VAE` with ``mse + kl_weight * kl_per_dim`` (:mod:`genlab.objectives.vae`)
through the one engine, computes the latent scale factor from training images (so scaled latents have
about unit variance, as Stable Diffusion's 0.18215 does for its VAE), and reports on test images:
reconstruction PSNR, KL per latent dimension, the scale and the std of scaled latents, and the reference
classifier's accuracy on reconstructions beside its accuracy on the originals (the latent keeps what the
image is when the two are close).
"""

from __future__ import annotations

import dataclasses
import functools
import time
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from genlab.data.batches import image_batches
from genlab.demos import unet_vae as demo
from genlab.demos.files import save_figures
from genlab.data.images import load_images
from genlab.experiments import register, register_demo, register_ship, unet_skip
from genlab.experiments.unet_skip import UNetSkipConfig
from genlab.metrics.psnr import psnr
from genlab.models import num_params
from genlab.models.vae import VAE, VAEConfig, reparameterize
from genlab.objectives.vae import gaussian_kl, vae_loss
from genlab.pipelines.latents import VAE_DIR, decode_latents, posterior_dataset, save_vae, set_latent_scale
from genlab.train import History, fit
from genlab.train.configs import TrainConfig
from genlab.train.keys import eval_key
from genlab.train.optim import OptimConfig, make_optimizer
from genlab.train.steps import make_train_step


@dataclasses.dataclass(frozen=True)
class VAEObjective:
    kl_weight: float = 1e-3  # loss = mse + kl_weight * kl_per_dim (see genlab.objectives.vae)


@dataclasses.dataclass(frozen=True)
class VAEEval:
    scale_images: int = 2000  # train images the latent scale is computed from
    images: int = 2000  # test images for the reported numbers


@dataclasses.dataclass(frozen=True)
class VAEExperimentConfig:
    """VAE training and evaluation settings."""

    model: VAEConfig = VAEConfig.cpu()
    objective: VAEObjective = VAEObjective()
    optim: OptimConfig = OptimConfig(learning_rate=3e-3, warmup_steps=50, clip_norm=1.0)  # adam, warmup + cosine
    train: TrainConfig = TrainConfig(steps=400, batch_size=32)
    eval: VAEEval = VAEEval()

    @classmethod
    def tiny(cls) -> VAEExperimentConfig:
        return cls(model=VAEConfig.tiny(), optim=OptimConfig(learning_rate=3e-3, warmup_steps=5, clip_norm=1.0),
                   train=TrainConfig(steps=20, batch_size=16, examples=256), eval=VAEEval(scale_images=64, images=64))

    @classmethod
    def cpu(cls) -> VAEExperimentConfig:
        return cls()

    @classmethod
    def gpu(cls) -> VAEExperimentConfig:
        return cls(model=VAEConfig.gpu(), optim=OptimConfig(learning_rate=1e-3, warmup_steps=500, clip_norm=1.0),
                   train=TrainConfig(steps=10_000, batch_size=128), eval=VAEEval(scale_images=10_000, images=10_000))


def train_vae(config: VAEExperimentConfig, images: np.ndarray, *, seed: int, progress: bool = False
              ) -> tuple[VAE, History]:
    """Train a VAE on ``images: [N, 28, 28, 1]`` and set its latent scale from ``config.eval.scale_images`` of
    them."""
    k_init, k_train, k_scale = jax.random.split(jax.random.key(seed), 3)
    vae = VAE(config.model, rngs=nnx.Rngs(params=k_init))
    optimizer = make_optimizer(vae, config.optim, config.train.steps)
    loss_fn = functools.partial(vae_loss, kl_weight=config.objective.kl_weight)
    history = fit((vae, optimizer), make_train_step(loss_fn),
                  image_batches(images, batch_size=config.train.batch_size, seed=seed),
                  steps=config.train.steps, key=k_train, log_every=config.train.log_every, progress=progress,
                  desc="vae")
    set_latent_scale(vae, images[: config.eval.scale_images], k_scale)
    return vae, history


def evaluate_vae(vae: VAE, images: np.ndarray, labels: np.ndarray | None, key: jax.Array) -> dict[str, Any]:
    """Reconstruction PSNR, KL per latent dimension, latent statistics and (if the reference classifier is
    shipped and ``labels`` given) its accuracy on originals and reconstructions."""
    mean, logvar = posterior_dataset(vae, images)  # encoded once, for the reconstructions, KL and samples
    recon = decode_latents(vae, mean)
    kl = jnp.mean(gaussian_kl(jnp.asarray(mean), jnp.asarray(logvar)), axis=(1, 2, 3))  # [N]
    scale = float(vae.latent_scale[...])
    z_scaled = np.asarray(reparameterize(jnp.asarray(mean), jnp.asarray(logvar), key)) * scale
    report = {
        "recon_psnr_db": round(float(np.mean(psnr(recon, images))), 2),
        "kl_per_dim": round(float(np.mean(np.asarray(kl))), 4),
        "latent_shape": list(vae.config.latent_shape(*images.shape[1:3])),
        "latent_scale": round(scale, 4),
        "scaled_latent_std": round(float(np.std(z_scaled)), 3),
        "scaled_latent_mean": round(float(np.mean(z_scaled)), 3),
    }
    if labels is not None:
        from genlab.metrics.reference import reference_classifier

        ref = reference_classifier()
        pred_orig, pred_recon = ref.predict(images), ref.predict(recon)
        report["classifier_acc_originals"] = round(float(np.mean(pred_orig == labels)), 4)
        report["classifier_acc_recon"] = round(float(np.mean(pred_recon == labels)), 4)
        report["classifier_agreement"] = round(float(np.mean(pred_recon == pred_orig)), 4)
    return report


@register("vae-fmnist", config=VAEExperimentConfig, default_seeds=1,
          description="convolutional VAE on Fashion-MNIST (7x7x4 latents): recon PSNR, KL/dim, latent scale, "
          "reference-classifier accuracy on reconstructions")
def run(config: VAEExperimentConfig, seeds: list[int]) -> dict[str, Any]:
    train = load_images("fashion_mnist", "train")
    test = load_images("fashion_mnist", "test")
    train_x = config.train.subset(train.images)
    test_x, test_y = test.images[: config.eval.images], test.labels[: config.eval.images]
    reports, seconds = [], []
    for seed in seeds:
        t0 = time.perf_counter()
        vae, history = train_vae(config, train_x, seed=seed)
        seconds.append(round(time.perf_counter() - t0, 1))
        report = evaluate_vae(vae, test_x, test_y, eval_key(seed))
        report["final_train_mse"] = float(np.mean(history.metrics["mse"][-20:]))
        reports.append(report)
    out: dict[str, Any] = {}
    for k, v in reports[0].items():
        if isinstance(v, float):
            out[k] = round(float(np.mean([r[k] for r in reports])), 4)
            if len(reports) > 1:
                out[k + "_std"] = round(float(np.std([r[k] for r in reports])), 4)
        else:
            out[k] = v
    return {**out, "num_params": num_params(vae),
            "steps": config.train.steps, "batch_size": config.train.batch_size,
            "kl_weight": config.objective.kl_weight, "train_seconds": seconds, "train_source": train.source,
            "num_train": len(train_x), "num_eval": len(test_x)}


@register_ship("vae-fmnist")
def ship(config: VAEExperimentConfig, out_dir: Path | None = None) -> dict[str, Any]:
    """Train the VAE (seed 0) on the best available train split and write ``data/vae/vae.{npz,json}``: the
    frozen VAE of latent diffusion (``genlab.pipelines.latents.load_vae``)."""
    train, test = load_images("fashion_mnist", "train"), load_images("fashion_mnist", "test")
    vae, _ = train_vae(config, config.train.subset(train.images), seed=0)
    report = evaluate_vae(vae, test.images[: config.eval.images], test.labels[: config.eval.images], eval_key(0))
    save_vae(vae, out_dir or VAE_DIR, {**report, "train_source": train.source, "steps": config.train.steps})
    return report


# ------------------------------------------------------------------------------------------------ demo
@dataclasses.dataclass(frozen=True)
class UNetVAEDemoConfig:
    """The trainings of ``unet-skip`` and ``vae-fmnist`` (seed 0) behind the demo part ``unet_vae``; at the cpu
    preset with half their steps, so the part stays near 2-3 minutes on 2 cores (``genlab eval`` reports the
    full-length runs)."""

    unet: UNetSkipConfig = UNetSkipConfig.cpu()
    vae: VAEExperimentConfig = VAEExperimentConfig.cpu()

    @classmethod
    def tiny(cls) -> UNetVAEDemoConfig:
        return cls(UNetSkipConfig.tiny(), VAEExperimentConfig.tiny())

    @classmethod
    def cpu(cls) -> UNetVAEDemoConfig:
        def half(c):
            return dataclasses.replace(c, train=dataclasses.replace(c.train, steps=c.train.steps // 2))

        return cls(half(UNetSkipConfig.cpu()), half(VAEExperimentConfig.cpu()))

    @classmethod
    def gpu(cls) -> UNetVAEDemoConfig:
        return cls(UNetSkipConfig.gpu(), VAEExperimentConfig.gpu())


@register_demo("unet_vae", config=UNetVAEDemoConfig, order=30)
def make_demo(config: UNetVAEDemoConfig, out_dir: Path) -> list[Path]:
    """U-Net denoising with/without skips (examples, PSNR vs noise) and the VAE (reconstructions,
    interpolations, prior samples, latent channels)."""
    train, test = load_images("fashion_mnist", "train"), load_images("fashion_mnist", "test")
    k_eval, k_show, k_prior = jax.random.split(jax.random.key(0), 3)
    u = config.unet
    u_train = u.train.subset(train.images)
    models = {arm: unet_skip.train_denoiser(u, u_train, skip=arm == "skip", seed=0)[0] for arm in unet_skip.ARMS}
    table = unet_skip.evaluate(models, test.images[: u.eval.images], u.eval.sigmas, k_eval)
    table = unet_skip.summarize([table], u.eval.sigmas)["psnr_db"]
    figures = demo.unet_figures_for(models, table, test.images, test.labels, u.eval.sigmas, k_show)
    v = config.vae
    vae, _ = train_vae(v, v.train.subset(train.images), seed=0)
    figures.update(demo.vae_figures_for(vae, test.images, test.labels, k_prior))
    return save_figures(figures, out_dir)
