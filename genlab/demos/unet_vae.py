"""Lecture figures of the U-Net (what skips buy a denoiser) and the VAE (what the latent keeps).

Given trained models, these writers make the figures (``genlab.figures.unet`` and ``genlab.figures.vae``) and
save them; the training happens in ``genlab.experiments.vae`` (demo part ``unet_vae``).
"""

from __future__ import annotations

import jax
import numpy as np

from genlab.figures import unet as unet_figures
from genlab.figures import vae as vae_figures
from genlab.metrics.psnr import psnr
from genlab.pipelines.latents import decode_latents, encode_dataset, reconstruct
from genlab.samplers.denoise import denoise_images, noisy_copies

INTERPOLATION_PAIRS = ((0, 1), (2, 7), (5, 9), (3, 8))  # different classes at the two ends


def one_per_class(labels: np.ndarray, n: int) -> np.ndarray:
    """Indices of the first example of classes 0, 1, ..., n-1 (fewer if some class is missing)."""
    return np.array([int(np.argmax(labels == c)) for c in range(n) if np.any(labels == c)])


def unet_figures_for(models: dict, table: dict, images: np.ndarray, labels: np.ndarray, sigmas,
                     key: jax.Array) -> dict:
    """Denoising examples (one image per class for 6 classes, each noise level) and PSNR against noise.

    models: ``{"skip": UNet, "no_skip": UNet}``; table: the ``psnr_db`` table of ``unet-skip``.
    """
    examples = images[one_per_class(labels, 6)]
    noisy = noisy_copies(examples, sigmas, key)
    denoised = {name: {s: denoise_images(m, noisy[s], s) for s in sigmas} for name, m in models.items()}
    return {"unet_denoising_examples.png": unet_figures.denoising_examples(examples, noisy, denoised, table),
            "unet_psnr_vs_noise.png": unet_figures.psnr_vs_noise(table)}


def interpolate(z_a: np.ndarray, z_b: np.ndarray, steps: int) -> np.ndarray:
    """``steps`` latents on the straight line from ``z_a`` to ``z_b`` (both ``[h, w, c]``) -> ``[steps, h, w, c]``."""
    alpha = np.linspace(0.0, 1.0, steps, dtype=np.float32)[:, None, None, None]
    return (1.0 - alpha) * z_a[None] + alpha * z_b[None]


def vae_figures_for(vae, images: np.ndarray, labels: np.ndarray, key: jax.Array) -> dict:
    """Reconstructions, interpolations between classes, prior samples and latent channels of a trained VAE."""
    shown = images[one_per_class(labels, 10)]
    recon = reconstruct(vae, shown)
    z = encode_dataset(vae, shown, None)  # posterior means, unscaled
    paths = np.stack([decode_latents(vae, interpolate(z[a], z[b], 8)) for a, b in INTERPOLATION_PAIRS])
    prior = jax.random.normal(key, (32, *vae.config.latent_shape()))
    return {
        "vae_reconstructions.png": vae_figures.reconstructions(shown, recon, float(np.mean(psnr(recon, shown)))),
        "vae_interpolations.png": vae_figures.interpolations(paths),
        "vae_prior_samples.png": vae_figures.prior_samples(decode_latents(vae, np.asarray(prior))),
        "vae_latent_channels.png": vae_figures.latent_channels(shown[:4], z[:4] * float(vae.latent_scale[...])),
    }
