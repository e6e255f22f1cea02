"""Lecture figures for the U-Net skip-connection experiment (``genlab.experiments.unet_skip``).

``denoising_examples``: the same noisy test images denoised by the U-Net with and without skip
connections, one row per noise level. ``psnr_vs_noise``: PSNR against noise level for both, with the
noisy input as a baseline; the gap between the curves is what the skips buy.
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from genlab.figures.gan_images import tile

NAMES = {"skip": "with skips", "no_skip": "without skips"}


def denoising_examples(clean: np.ndarray, noisy: dict[float, np.ndarray], denoised: dict[str, dict[float, np.ndarray]],
                       psnr_table: dict[str, dict[str, float]] | None = None, *, dpi: float | None = None) -> Figure:
    """Rows: noise levels; columns: clean, noisy, then each model in ``denoised``.

    clean: [n, H, W, 1] in [-1, 1]; noisy: sigma -> [n, H, W, 1]; denoised: model name -> sigma -> [n, H, W, 1];
    psnr_table: optional ``{"sigma=0.1": {"noisy": dB, name: dB}}`` (from ``unet_skip.evaluate``) for the titles.
    """
    sigmas = list(noisy)
    columns = ["clean", "noisy", *denoised]
    n = len(clean)
    fig = Figure(figsize=(len(columns) * n * 0.42 + 0.6, len(sigmas) * 0.62 + 0.5), layout="constrained", dpi=dpi)
    axes = np.atleast_2d(fig.subplots(len(sigmas), len(columns)))
    for r, s in enumerate(sigmas):
        row = (psnr_table or {}).get(f"sigma={s:g}", {})
        for c, col in enumerate(columns):
            x = clean if col == "clean" else noisy[s] if col == "noisy" else denoised[col][s]
            ax = axes[r, c]
            ax.imshow(tile(np.clip(x, -1, 1), cols=n), cmap="gray", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            label = NAMES.get(col, col)
            if col in row:
                label += f": {row[col]:.1f} dB"
            ax.set_title(label, fontsize=8)
            if c == 0:
                ax.set_ylabel(f"σ = {s:g}", fontsize=9)
    fig.suptitle("U-Net denoiser with and without skip connections (same initial weights, data and steps)",
                 fontsize=10)
    return fig


def psnr_vs_noise(psnr_table: dict[str, dict[str, float]], *, dpi: float | None = None) -> Figure:
    """PSNR (dB) against noise level for every column of ``psnr_table`` (``{"sigma=s": {"noisy": .., name: ..}}``)."""
    keys = list(psnr_table)
    sigmas = [float(k.split("=")[1]) for k in keys]
    names = [k for k in psnr_table[keys[0]] if k not in ("gap_db", "gap_db_std")]
    fig = Figure(figsize=(5.2, 3.6), layout="constrained", dpi=dpi)
    ax = fig.subplots()
    for name in names:
        values = [psnr_table[k][name] for k in keys]
        style = dict(linestyle="--", color="gray") if name == "noisy" else {}
        ax.plot(sigmas, values, marker="o", label=NAMES.get(name, "noisy input" if name == "noisy" else name),
                **style)
    if "skip" in names and "no_skip" in names:
        for s, k in zip(sigmas, keys):
            gap = psnr_table[k]["skip"] - psnr_table[k]["no_skip"]
            ax.annotate(f"{gap:+.1f} dB", (s, psnr_table[k]["skip"]), textcoords="offset points", xytext=(0, 6),
                        ha="center", fontsize=7)
    ax.set_xscale("log")
    ax.margins(x=0.1, y=0.12)
    ax.set_xticks(sigmas, [f"{s:g}" for s in sigmas])
    ax.minorticks_off()
    ax.set_xlabel("noise level σ (images in [-1, 1])")
    ax.set_ylabel("PSNR (dB)")
    ax.set_title("PSNR of the denoised test images (gap: with minus without skips)", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return fig
