"""Lecture figures for 2D GANs: samples over training, coverage over time, D outputs and gradient norms, a GIF.

Inputs come from ``genlab.experiments.gan2d.train_gan2d``: ``run.snapshots`` (step -> [n, 2] samples),
``run.history`` (train metrics and VEEGAN evaluations) and the data set's mode centres.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from genlab.figures.notes import add_note
from genlab.figures.snapshots import eval_at, evenly_spaced_steps
from genlab.train.history import History

SNAPSHOT_HINT = "train with train_gan2d(..., snapshots=500) to record samples"


def _centers(centers) -> np.ndarray:
    """Mode centres ``[K, 2]`` from an array or a mixture (``genlab.data.toy2d.Mixture``, ``RING8``)."""
    return np.asarray(getattr(centers, "centers", centers), float)


def _limits(centers: np.ndarray, margin: float = 0.5) -> tuple[float, float]:
    r = float(np.abs(centers).max()) + margin
    return -r, r


def _scatter(ax, x: np.ndarray, centers: np.ndarray, title: str) -> None:
    lo, hi = _limits(centers)
    ax.scatter(x[:, 0], x[:, 1], s=2, alpha=0.4, color="tab:blue", rasterized=True)
    ax.scatter(centers[:, 0], centers[:, 1], s=40, marker="x", color="tab:red", linewidths=1.5)
    ax.set_xlim(lo, hi)
    ax.set_ylim(lo, hi)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title, fontsize=9)


def _coverage_at(history: History | None, step: int) -> str:
    e = eval_at(history, step)
    if "modes_covered" not in e:
        return ""
    return f": {e['modes_covered']}/{e['n_modes']} modes, {100 * e['high_quality_fraction']:.0f}% HQ"


def samples_over_training(snapshots: dict[int, np.ndarray], centers: np.ndarray, *, history: History | None = None,
                          panels: int = 6, title: str = "", dpi: float | None = None) -> Figure:
    """``panels`` scatter plots of G's samples at evenly spaced recorded steps, mode centres as red crosses.
    ``centers``: ``[K, 2]`` or a mixture (``RING8``, your own ``genlab.data.toy2d.Mixture``)."""
    picks = evenly_spaced_steps(snapshots, panels, SNAPSHOT_HINT)
    centers = _centers(centers)
    fig = Figure(figsize=(2.3 * len(picks), 2.6), layout="constrained", dpi=dpi)
    axes = fig.subplots(1, len(picks), squeeze=False)[0]
    for ax, step in zip(axes, picks):
        _scatter(ax, snapshots[step], centers, f"step {step}{_coverage_at(history, step)}")
    if title:
        fig.suptitle(title)
    return fig


def coverage_over_time(histories: dict[str, History], *, dpi: float | None = None) -> Figure:
    """Modes covered and high-quality fraction against step, one line per labelled run."""
    fig = Figure(figsize=(9, 3.2), layout="constrained", dpi=dpi)
    ax_m, ax_q = fig.subplots(1, 2)
    n_modes = None
    for label, h in histories.items():
        steps, modes = h.series("modes_covered")
        _, hq = h.series("high_quality_fraction")
        n_modes = h.evals[-1].get("n_modes", n_modes)
        ax_m.plot(steps, modes, marker=".", label=label)
        ax_q.plot(steps, 100 * hq, marker=".", label=label)
    if n_modes:
        ax_m.axhline(n_modes, color="gray", lw=0.8, ls="--")
        ax_m.set_ylim(0, n_modes + 0.5)
    ax_q.axhline(100 * (1 - np.exp(-4.5)), color="gray", lw=0.8, ls="--")  # a perfect sampler: 98.9 %
    ax_m.set(xlabel="step", ylabel="modes covered", title="modes covered (VEEGAN)")
    ax_q.set(xlabel="step", ylabel="% high quality (within 3σ)", title="sample quality", ylim=(0, 100))
    ax_m.legend(fontsize=8)
    return fig


def _smooth(values: np.ndarray, points: int = 200) -> tuple[np.ndarray, np.ndarray]:
    size = max(1, len(values) // points)
    n = len(values) // size
    return np.arange(n) * size + size, values[: n * size].reshape(n, size).mean(axis=1)


def d_outputs_and_grad_norms(history: History, title: str = "", *, dpi: float | None = None) -> Figure:
    """Mean D(x) and D(G(z)) (left) and both networks' gradient norms, log scale (right), smoothed."""
    fig = Figure(figsize=(9, 3.2), layout="constrained", dpi=dpi)
    ax_d, ax_g = fig.subplots(1, 2)
    steps = np.asarray(history.steps)
    for name, label in (("d_real", "mean D(x)"), ("d_fake", "mean D(G(z))")):
        idx, v = _smooth(np.asarray(history.metrics[name], float))
        ax_d.plot(steps[idx - 1], v, label=label)
    ax_d.set(xlabel="step", ylabel="discriminator output", title="what D says")
    ax_d.legend(fontsize=8)
    for name, label in (("grad_norm_d", "‖∇D‖"), ("grad_norm_g", "‖∇G‖")):
        idx, v = _smooth(np.asarray(history.metrics[name], float))
        ax_g.semilogy(steps[idx - 1], v, label=label)
    ax_g.set(xlabel="step", ylabel="global gradient norm", title="gradient norms")
    ax_g.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    return fig


def arms_comparison(arms: dict[str, tuple[History, np.ndarray]], centers: np.ndarray, title: str = "", *,
                    dpi: float | None = None) -> Figure:
    """Several runs of one setting side by side. ``arms``: label -> (history, final samples [n, 2]).

    Top row: each arm's final samples with the mode centres. Bottom row, one line per arm: the generator's
    gradient norm (log scale, smoothed), modes covered and % high quality over training.
    """
    if not arms:
        raise ValueError("arms is empty: pass label -> (history, final samples)")
    centers = _centers(centers)
    fig = Figure(figsize=(3.2 * max(3, len(arms)), 6.4), layout="constrained", dpi=dpi)
    top, bottom = fig.subfigures(2, 1)
    for ax, (label, (history, samples)) in zip(top.subplots(1, len(arms), squeeze=False)[0], arms.items()):
        last = history.evals[-1] if history.evals else {}
        coverage = _coverage_at(history, last.get("step", -1)).removeprefix(": ")
        _scatter(ax, np.asarray(samples), centers, f"{label}\n{coverage}" if coverage else label)
    ax_g, ax_m, ax_q = bottom.subplots(1, 3)
    for label, (history, _) in arms.items():
        steps = np.asarray(history.steps)
        idx, g = _smooth(np.asarray(history.metrics["grad_norm_g"], float))
        ax_g.semilogy(steps[idx - 1], np.maximum(g, 1e-30), label=label)
        eval_steps, modes = history.series("modes_covered")
        _, hq = history.series("high_quality_fraction")
        ax_m.plot(eval_steps, modes, marker=".", label=label)
        ax_q.plot(eval_steps, 100 * hq, marker=".", label=label)
    ax_g.set(xlabel="step", ylabel="‖∇G‖", title="the generator's gradient")
    ax_m.set(xlabel="step", ylabel="modes covered", title="modes covered (VEEGAN)", ylim=(-0.3, len(centers) + 0.5))
    ax_q.set(xlabel="step", ylabel="% high quality (within 3σ)", title="sample quality", ylim=(0, 100))
    ax_g.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    return fig


def training_animation(snapshots: dict[int, np.ndarray], centers: np.ndarray, path: str | Path, *,
                       history: History | None = None, title: str = "", fps: int = 4, dpi: float = 80) -> Path:
    """Write a GIF of G's samples at every recorded step (PillowWriter), with the run's note
    (:mod:`genlab.figures.notes`) on every frame. Returns the path."""
    from matplotlib.animation import FuncAnimation, PillowWriter

    if not snapshots:
        raise ValueError(f"no snapshots: {SNAPSHOT_HINT}")
    steps = sorted(snapshots)
    centers = _centers(centers)
    fig = Figure(figsize=(3.6, 3.8), layout="constrained")
    ax = fig.subplots()
    add_note(fig)

    def draw(i: int):
        ax.clear()
        _scatter(ax, snapshots[steps[i]], centers, f"{title}\nstep {steps[i]}{_coverage_at(history, steps[i])}")
        return ()

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    FuncAnimation(fig, draw, frames=len(steps), blit=False).save(path, writer=PillowWriter(fps=fps), dpi=dpi)
    return path
