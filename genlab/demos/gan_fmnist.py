"""The image GAN demo's files: sample grids, class histograms over training, D outputs and gradient norms.

A run here is anything with ``history`` (class-histogram evaluations) and ``snapshots`` (step -> samples
``[n, 28, 28, 1]``), as ``genlab.experiments.gan_fmnist.train_gan_fmnist(..., snapshots=True)`` returns.
"""

from __future__ import annotations

from pathlib import Path

from genlab.demos.files import save_figures
from genlab.figures.gan2d import d_outputs_and_grad_norms
from genlab.figures.gan_images import class_histograms_over_training, grids_over_training


def write_gan_fmnist_demo(out_dir: str | Path, runs: dict, class_names: tuple[str, ...] = ()) -> list[Path]:
    """For runs ``variant -> run``: one class-histogram figure for all, then samples and D outputs per run."""
    figures = {"gan_fmnist_class_histograms.png": class_histograms_over_training(
        {v: r.history for v, r in runs.items()}, class_names)}
    for v, r in runs.items():
        figures[f"gan_fmnist_{v}_samples.png"] = grids_over_training(r.snapshots, history=r.history,
                                                                     title=f"{v}: samples over training")
        figures[f"gan_fmnist_{v}_d_outputs.png"] = d_outputs_and_grad_norms(r.history, title=f"gan-fmnist {v}")
    return save_figures(figures, out_dir)
