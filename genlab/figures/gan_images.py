"""Lecture figures for image GANs: sample grids over training and class histograms over training.

Inputs come from ``genlab.experiments.gan_fmnist.train_gan_fmnist``: ``run.snapshots`` (step -> samples
``[n, 28, 28, 1]`` in [-1, 1], the same z at every step) and ``run.history``, whose evaluations hold the
reference classifier's ``histogram``, ``class_entropy`` and ``classes_covered``. For D outputs and gradient
norms use :func:`genlab.figures.gan2d.d_outputs_and_grad_norms` (it only reads train metrics).
"""

from __future__ import annotations

import math

import numpy as np
from matplotlib.figure import Figure

from genlab.figures.snapshots import eval_at, evenly_spaced_steps
from genlab.train.history import History


def tile(images: np.ndarray, cols: int = 8) -> np.ndarray:
    """Tile ``images: [N, H, W, C]`` (or [N, H, W]) into one ``[rows*H, cols*W]`` (C = 1) or RGB array, in [0, 1]."""
    x = np.asarray(images, np.float32)
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4:
        raise ValueError(f"tile expects images [N, H, W, C], got shape {x.shape}")
    n, h, w, c = x.shape
    rows = max(1, math.ceil(n / cols))
    pad = rows * cols - n
    x = np.concatenate([x, np.full((pad, h, w, c), -1.0, np.float32)]) if pad else x
    grid = x.reshape(rows, cols, h, w, c).transpose(0, 2, 1, 3, 4).reshape(rows * h, cols * w, c)
    grid = np.clip((grid + 1.0) / 2.0, 0.0, 1.0)  # [-1, 1] -> [0, 1]
    return grid[..., 0] if c == 1 else grid


def image_grid(images: np.ndarray, cols: int = 8, title: str = "", *, dpi: float | None = None) -> Figure:
    """One grid of ``images: [N, H, W, C]`` in [-1, 1]."""
    fig = Figure(figsize=(cols * 0.45 + 0.2, math.ceil(len(images) / cols) * 0.45 + 0.4), layout="constrained", dpi=dpi)
    ax = fig.subplots()
    ax.imshow(tile(images, cols), cmap="gray", vmin=0, vmax=1)
    ax.set_axis_off()
    if title:
        ax.set_title(title, fontsize=9)
    return fig


def grids_over_training(snapshots: dict[int, np.ndarray], *, history: History | None = None, panels: int = 5,
                        cols: int = 6, per_panel: int = 36, title: str = "", dpi: float | None = None) -> Figure:
    """``panels`` sample grids at evenly spaced recorded steps (same z), titled with classes covered/entropy."""
    picks = evenly_spaced_steps(snapshots, panels, "train with train_gan_fmnist(..., snapshots=True) to record samples")
    fig = Figure(figsize=(2.5 * len(picks), 2.9), layout="constrained", dpi=dpi)
    axes = fig.subplots(1, len(picks), squeeze=False)[0]
    for ax, step in zip(axes, picks):
        ax.imshow(tile(snapshots[step][:per_panel], cols), cmap="gray", vmin=0, vmax=1)
        ax.set_axis_off()
        e = eval_at(history, step)
        note = f"\n{e['classes_covered']}/{e['n_classes']} classes, H={e['class_entropy']:.2f}" if e else ""
        ax.set_title(f"step {step}{note}", fontsize=8)
    if title:
        fig.suptitle(title)
    return fig


def class_histograms_over_training(histories: dict[str, History], class_names: tuple[str, ...] = (),
                                   title: str = "", *, dpi: float | None = None) -> Figure:
    """Per run, a heat map of the class histogram of samples against step; last panel: class entropy vs step.

    ln K (uniform) and 0.95 ln K (the target) are dashed lines on the entropy panel.
    """
    runs = {label: h for label, h in histories.items() if any("histogram" in e for e in h.evals)}
    if not runs:
        raise ValueError("no class histograms in these histories: train with the class callback "
                         "(train_gan_fmnist records one every eval_every steps)")
    fig = Figure(figsize=(4.2 * (len(runs) + 1), 3.4), layout="constrained", dpi=dpi)
    axes = fig.subplots(1, len(runs) + 1, squeeze=False)[0]
    k = None
    for ax, (label, h) in zip(axes, runs.items()):
        rows = [e for e in h.evals if "histogram" in e]
        hist = np.asarray([e["histogram"] for e in rows], float)  # [T, K]
        k = hist.shape[1]
        steps = [e["step"] for e in rows]
        im = ax.imshow(hist.T, aspect="auto", origin="lower", cmap="viridis", vmin=0, vmax=max(0.3, hist.max()),
                       extent=(-0.5, len(steps) - 0.5, -0.5, k - 0.5), interpolation="nearest")
        ticks = np.unique(np.linspace(0, len(steps) - 1, min(6, len(steps))).round().astype(int))
        ax.set_xticks(ticks, [str(steps[i]) for i in ticks], fontsize=7)
        names = class_names if len(class_names) == k else [str(i) for i in range(k)]
        ax.set_yticks(range(k), names, fontsize=7)
        ax.set(xlabel="step", title=f"{label}: share of samples per class")
        fig.colorbar(im, ax=ax, fraction=0.05)
        steps_e, ent = h.series("class_entropy")
        axes[-1].plot(steps_e, ent, marker=".", label=label)
    axes[-1].axhline(math.log(k), color="gray", lw=0.8, ls="--", label="ln K (uniform)")
    axes[-1].axhline(0.95 * math.log(k), color="tab:red", lw=0.8, ls=":", label="0.95 ln K")
    axes[-1].set(xlabel="step", ylabel="class entropy (nats)", title="entropy of the class histogram",
                 ylim=(0, math.log(k) * 1.05))
    axes[-1].legend(fontsize=7)
    if title:
        fig.suptitle(title)
    return fig
