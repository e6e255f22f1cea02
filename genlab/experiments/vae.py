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
import optax
from flax import nnx

from genlab.data.batches import image_batches
from genlab.data.images import load_images
from genlab.experiments import register, register_demo
from genlab.metrics.psnr import psnr
from genlab.models.vae import VAE, VAEConfig, reparameterize
from genlab.objectives.vae import encode_dataset, gaussian_kl, posterior_dataset, set_latent_scale, vae_loss
from genlab.presets import config_for
from genlab.train import History, fit
from genlab.train.steps import make_train_step


@dataclasses.dataclass(frozen=True)
class VAEExperimentConfig:
    """VAE training and evaluation settings."""

    vae: VAEConfig = VAEConfig.cpu()
    steps: int = 400
    batch_size: int = 32
    learning_rate: float = 3e-3  # adam peak, warmup then cosine decay to 0
    warmup_steps: int = 50
    kl_weight: float = 1e-3  # loss = mse + kl_weight * kl_per_dim (see genlab.objectives.vae)
    scale_images: int = 2000  # train images the latent scale is computed from
    eval_images: int = 2000  # test images for the reported numbers
    train_images: int | None = None  # None: the whole train split

    @classmethod
    def tiny(cls) -> VAEExperimentConfig:
        return cls(vae=VAEConfig.tiny(), steps=20, batch_size=16, warmup_steps=5, scale_images=64, eval_images=64,
                   train_images=256)

    @classmethod
    def cpu(cls) -> VAEExperimentConfig:
        return cls()

    @classmethod
    def gpu(cls) -> VAEExperimentConfig:
        return cls(vae=VAEConfig.gpu(), steps=10_000, batch_size=128, learning_rate=1e-3, warmup_steps=500,
                   scale_images=10_000, eval_images=10_000)


def train_vae(config: VAEExperimentConfig, images: np.ndarray, *, seed: int, progress: bool = False
              ) -> tuple[VAE, History]:
    """Train a VAE on ``images: [N, 28, 28, 1]`` and set its latent scale from ``config.scale_images`` of them."""
    k_init, k_train, k_scale = jax.random.split(jax.random.key(seed), 3)
    vae = VAE(config.vae, rngs=nnx.Rngs(params=k_init))
    schedule = optax.warmup_cosine_decay_schedule(
        0.0, config.learning_rate, min(config.warmup_steps, config.steps), max(config.steps, 1))
    optimizer = nnx.Optimizer(vae, optax.chain(optax.clip_by_global_norm(1.0), optax.adam(schedule)), wrt=nnx.Param)
    history = fit((vae, optimizer), make_train_step(functools.partial(vae_loss, kl_weight=config.kl_weight)),
                  image_batches(images, batch_size=config.batch_size, seed=seed),
                  steps=config.steps, key=k_train, log_every=50, progress=progress, desc="vae")
    set_latent_scale(vae, images[: config.scale_images], k_scale)
    return vae, history


@nnx.jit
def _decode(vae, z):
    return vae.decode(z)


def decode_latents(vae: VAE, z: np.ndarray, chunk: int = 500) -> np.ndarray:
    """Unscaled ``z: [N, h, w, c]`` -> images ``[N, 28, 28, 1]`` clipped to [-1, 1]."""
    out = [np.asarray(_decode(vae, jnp.asarray(z[i : i + chunk]))) for i in range(0, len(z), chunk)]
    return np.clip(np.concatenate(out), -1.0, 1.0)


def reconstruct(vae: VAE, images: np.ndarray) -> np.ndarray:
    """``images: [N, 28, 28, 1]`` -> reconstructions from the posterior means, clipped to [-1, 1]."""
    return decode_latents(vae, encode_dataset(vae, images, None))


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


@register(
    "vae-fmnist",
    description="convolutional VAE on Fashion-MNIST (7x7x4 latents): recon PSNR, KL/dim, latent scale, "
    "reference-classifier accuracy on reconstructions",
    default_seeds=1,
)
def run(preset: str, seeds: list[int], variant: str | None = None) -> dict[str, Any]:
    config = config_for(VAEExperimentConfig, preset)
    train = load_images("fashion_mnist", "train")
    test = load_images("fashion_mnist", "test")
    train_x = train.images[: config.train_images] if config.train_images else train.images
    test_x, test_y = test.images[: config.eval_images], test.labels[: config.eval_images]
    reports, seconds = [], []
    for seed in seeds:
        t0 = time.perf_counter()
        vae, history = train_vae(config, train_x, seed=seed)
        seconds.append(round(time.perf_counter() - t0, 1))
        report = evaluate_vae(vae, test_x, test_y, jax.random.key(10_000 + seed))
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
    return {**out, "num_params": int(sum(p.size for p in jax.tree.leaves(nnx.state(vae, nnx.Param)))),
            "steps": config.steps, "batch_size": config.batch_size, "kl_weight": config.kl_weight,
            "train_seconds": seconds, "train_source": train.source, "num_train": len(train_x),
            "num_eval": len(test_x)}


def interpolate(z_a: np.ndarray, z_b: np.ndarray, steps: int) -> np.ndarray:
    """``steps`` latents on the straight line from ``z_a`` to ``z_b`` (both ``[h, w, c]``) -> ``[steps, h, w, c]``."""
    alpha = np.linspace(0.0, 1.0, steps, dtype=np.float32)[:, None, None, None]
    return (1.0 - alpha) * z_a[None] + alpha * z_b[None]


DEMO_CPU_STEPS = 0.5  # fraction of the experiments' training steps the demo uses at the cpu preset


@register_demo("unet_vae", order=30)
def make_demo(preset: str, out_dir: Path) -> list[Path]:
    """U-Net denoising with/without skips (examples, PSNR vs noise) and the VAE (reconstructions,
    interpolations, prior samples, latent channels); the trainings of ``unet-skip`` and ``vae-fmnist``, seed 0,
    with ``DEMO_CPU_STEPS`` of their steps at the cpu preset (so the demo stays near 2-3 minutes on 2 cores;
    ``genlab eval`` reports the full-length runs)."""
    from genlab.experiments import unet_skip
    from genlab.figures import unet as unet_figures
    from genlab.figures import vae as vae_figures

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    train, test = load_images("fashion_mnist", "train"), load_images("fashion_mnist", "test")
    k_eval, k_show, k_prior = jax.random.split(jax.random.key(0), 3)
    figures = {}

    short = DEMO_CPU_STEPS if preset == "cpu" else 1.0
    ucfg = config_for(unet_skip.UNetSkipConfig, preset)
    ucfg = dataclasses.replace(ucfg, steps=int(ucfg.steps * short))
    u_train = train.images[: ucfg.train_images] if ucfg.train_images else train.images
    models = {name: unet_skip.train_denoiser(ucfg, u_train, skip=name == "skip", seed=0)[0]
              for name in unet_skip.VARIANTS}
    table = unet_skip.evaluate(models, test.images[: ucfg.eval_images], ucfg.eval_sigmas, k_eval)
    table = unet_skip.summarize([table], ucfg.eval_sigmas)["psnr_db"]
    examples = test.images[_one_per_class(test.labels, 6)]
    noisy = unet_skip.noisy_copies(examples, ucfg.eval_sigmas, k_show)
    denoised = {name: {s: unet_skip.denoise_images(m, noisy[s], s) for s in ucfg.eval_sigmas}
                for name, m in models.items()}
    figures["unet_denoising_examples.png"] = unet_figures.denoising_examples(examples, noisy, denoised, table)
    figures["unet_psnr_vs_noise.png"] = unet_figures.psnr_vs_noise(table)

    vcfg = config_for(VAEExperimentConfig, preset)
    vcfg = dataclasses.replace(vcfg, steps=int(vcfg.steps * short))
    v_train = train.images[: vcfg.train_images] if vcfg.train_images else train.images
    vae, _ = train_vae(vcfg, v_train, seed=0)
    shown = test.images[_one_per_class(test.labels, 10)]
    recon = reconstruct(vae, shown)
    figures["vae_reconstructions.png"] = vae_figures.reconstructions(shown, recon, float(np.mean(psnr(recon, shown))))
    z = encode_dataset(vae, shown, None)  # posterior means, unscaled
    pairs = [(0, 1), (2, 7), (5, 9), (3, 8)]  # different classes at the two ends
    paths = np.stack([decode_latents(vae, interpolate(z[a], z[b], 8)) for a, b in pairs])
    figures["vae_interpolations.png"] = vae_figures.interpolations(paths)
    prior = jax.random.normal(k_prior, (32, *vcfg.vae.latent_shape()))
    figures["vae_prior_samples.png"] = vae_figures.prior_samples(decode_latents(vae, np.asarray(prior)))
    figures["vae_latent_channels.png"] = vae_figures.latent_channels(shown[:4], z[:4] * float(vae.latent_scale[...]))

    written = []
    for name, fig in figures.items():
        fig.savefig(out_dir / name, dpi=110)
        written.append(out_dir / name)
    return written


def _one_per_class(labels: np.ndarray, n: int) -> np.ndarray:
    """Indices of the first example of classes 0, 1, ..., n-1 (fewer if some class is missing)."""
    return np.array([int(np.argmax(labels == c)) for c in range(n) if np.any(labels == c)])
