"""The 2D GAN demo's files: collapse vs fix on ring8, the divergence arms, and the DiracGAN portrait.

A run here is anything with ``history`` (a :class:`genlab.train.history.History` with VEEGAN evaluations) and
``snapshots`` (step -> ``[n, 2]`` samples), as ``genlab.experiments.gan2d.train_gan2d`` returns.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from genlab.demos.files import save_figures
from genlab.figures.dirac import dirac_portrait
from genlab.figures.gan2d import (arms_comparison, coverage_over_time, d_outputs_and_grad_norms,
                                  samples_over_training, training_animation)


def write_gan2d_demo(out_dir: str | Path, vanilla, fixed, arms: dict, *, divergent, centers: np.ndarray) -> list[Path]:
    """PNGs and GIFs of a vanilla and a fixed ring8 run, the labelled divergence ``arms`` (label -> run) and
    the ``divergent`` one's D outputs; ``centers``: ``[K, 2]`` mode centres. Returns the files written."""
    out_dir = Path(out_dir)
    figures = {
        "ring8_vanilla_samples.png": samples_over_training(
            vanilla.snapshots, centers, history=vanilla.history, title="vanilla GAN (Metz 2017 setup): mode collapse"),
        "ring8_fixed_samples.png": samples_over_training(fixed.snapshots, centers, history=fixed.history,
                                                         title="PacGAN2 + R1: every mode"),
        "ring8_coverage.png": coverage_over_time({"vanilla": vanilla.history, "PacGAN2 + R1": fixed.history}),
        "ring8_vanilla_d.png": d_outputs_and_grad_norms(vanilla.history, "vanilla GAN (non-saturating loss)"),
        "ring8_divergence_d.png": d_outputs_and_grad_norms(
            divergent.history, "saturating loss vs a too-strong D: G's gradient vanishes"),
        "ring8_divergence_arms.png": arms_comparison(
            {label: (r.history, r.snapshots[max(r.snapshots)]) for label, r in arms.items()}, centers,
            title="a too-strong D (5 steps at lr 3e-3 per G step): three ways to play"),
        "diracgan_portrait.png": dirac_portrait(),
    }
    return save_figures(figures, out_dir) + [
        training_animation(vanilla.snapshots, centers, out_dir / "ring8_vanilla.gif", history=vanilla.history,
                           title="vanilla GAN"),
        training_animation(fixed.snapshots, centers, out_dir / "ring8_fixed.gif", history=fixed.history,
                           title="PacGAN2 + R1"),
    ]
