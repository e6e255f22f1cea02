"""Lecture figures for the VAE (``genlab.experiments.vae``): reconstructions, latent interpolations,
samples from the prior, and the latent image's channels. Images are ``[N, 28, 28, 1]`` in [-1, 1]."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from genlab.figures.gan_images import image_grid, tile


def reconstructions(originals: np.ndarray, recon: np.ndarray, psnr_db: float | None = None, *,
                    dpi: float | None = None) -> Figure:
    """Top row ``originals: [n, H, W, 1]``, bottom row their reconstructions ``[n, H, W, 1]``."""
    n = len(originals)
    fig = Figure(figsize=(n * 0.5 + 0.9, 1.5), layout="constrained", dpi=dpi)
    axes = fig.subplots(2, 1)
    for ax, x, label in zip(axes, (originals, recon), ("original", "recon.")):
        ax.imshow(tile(np.clip(x, -1, 1), cols=n), cmap="gray", vmin=0, vmax=1)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_ylabel(label, fontsize=7)
    title = "VAE: image -> 7x7x4 latent -> image"
    fig.suptitle(title + (f" (PSNR {psnr_db:.1f} dB)" if psnr_db is not None else ""), fontsize=9)
    return fig


def interpolations(paths: np.ndarray, *, dpi: float | None = None) -> Figure:
    """``paths: [R, S, H, W, 1]``: each row decodes S latents on the line from one image's latent to another's."""
    r, s = paths.shape[:2]
    return image_grid(paths.reshape(r * s, *paths.shape[2:]), cols=s, dpi=dpi,
                      title="latent interpolation:\neach row decodes a straight line\nbetween two images' latents")


def prior_samples(samples: np.ndarray, cols: int = 8, *, dpi: float | None = None) -> Figure:
    """Decoded ``z ~ N(0, I)``: ``samples: [n, H, W, 1]``."""
    return image_grid(samples, cols=cols, dpi=dpi,
                      title="decoded samples of the prior N(0, I):\nthe VAE alone is a poor "
                            "generator;\nlatent diffusion learns where the latents lie")


def latent_channels(images: np.ndarray, z: np.ndarray, *, dpi: float | None = None) -> Figure:
    """Each row: an image ``[H, W, 1]`` and the channels of its latent ``z: [n, h, w, c]`` (one colour scale)."""
    n, c = len(images), z.shape[-1]
    lim = float(np.max(np.abs(z))) or 1.0
    fig = Figure(figsize=((c + 1) * 1.1 + 0.6, n * 1.1 + 0.4), layout="constrained", dpi=dpi)
    axes = np.atleast_2d(fig.subplots(n, c + 1))
    for i in range(n):
        axes[i, 0].imshow(np.clip(images[i, ..., 0], -1, 1), cmap="gray", vmin=-1, vmax=1)
        for k in range(c):
            im = axes[i, k + 1].imshow(z[i, ..., k], cmap="RdBu_r", vmin=-lim, vmax=lim)
            if i == 0:
                axes[i, k + 1].set_title(f"channel {k}", fontsize=8)
        for ax in axes[i]:
            ax.set_xticks([])
            ax.set_yticks([])
    axes[0, 0].set_title("image", fontsize=8)
    fig.colorbar(im, ax=axes[:, -1], shrink=0.8, label="scaled latent")
    fig.suptitle(f"latent images ({z.shape[1]}x{z.shape[2]}x{c}): a small picture of the picture", fontsize=9)
    return fig
