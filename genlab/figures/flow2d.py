"""Figures for 2D flow matching: trajectories (learned beside exact, before and after reflow), samples at a few
Euler steps, and the learned field's error against the oracle per t.

Inputs are plain arrays: a trajectory is ``xs: [N + 1, B, 2]``, the states on a uniform time grid from noise
(t = 0) to data (t = 1), as ``genlab.samplers.ode.odeint(..., trajectory=True).xs`` returns it.
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure


def frame_plane(ax, lim: float, title: str, fontsize: float = 9) -> None:
    """A square 2D panel ``[-lim, lim]²`` without ticks, titled."""
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title, fontsize=fontsize)


def _centers(ax, centers) -> None:
    if centers is not None:
        c = np.asarray(centers)
        ax.scatter(c[:, 0], c[:, 1], s=40, marker="x", color="tab:red", linewidths=1.5, zorder=3)


def trajectories(panels: dict[str, np.ndarray], *, centers=None, lines: int = 64, lim: float | None = None,
                 title: str = "", dpi: float | None = None) -> Figure:
    """One panel per entry ``title -> xs: [N + 1, B, 2]``: the paths of the first ``lines`` points from noise
    (grey dots) to their end (blue dots); mode centres as red crosses. Panels share the axes' limits."""
    if not panels:
        raise ValueError("trajectories needs at least one panel: {title: xs [N + 1, B, 2]}")
    arrays = {}
    for name, xs in panels.items():
        xs = np.asarray(xs)
        if xs.ndim != 3 or xs.shape[-1] != 2:
            raise ValueError(f"panel {name!r}: expected a trajectory [N + 1, B, 2], got shape {xs.shape}")
        arrays[name] = xs[:, :lines]
    if lim is None:
        lim = 1.1 * max(float(np.abs(xs).max()) for xs in arrays.values())
    fig = Figure(figsize=(2.8 * len(arrays), 3.0), layout="constrained", dpi=dpi)
    axes = fig.subplots(1, len(arrays), squeeze=False)[0]
    for ax, (name, xs) in zip(axes, arrays.items()):
        ax.plot(xs[:, :, 0], xs[:, :, 1], color="tab:blue", alpha=0.35, lw=0.8)
        ax.scatter(xs[0, :, 0], xs[0, :, 1], s=6, color="0.5", zorder=2)
        ax.scatter(xs[-1, :, 0], xs[-1, :, 1], s=6, color="tab:blue", zorder=2)
        _centers(ax, centers)
        frame_plane(ax, lim, name)
    if title:
        fig.suptitle(title)
    return fig


def samples_grid(samples: dict[str, np.ndarray], *, centers=None, lim: float | None = None, cols: int | None = None,
                 title: str = "", dpi: float | None = None) -> Figure:
    """One scatter panel per entry ``title -> x: [n, 2]`` (e.g. one per number of Euler steps), ``cols`` per row
    (default: all in one row)."""
    arrays = {name: np.asarray(x) for name, x in samples.items()}
    if not arrays:
        raise ValueError("samples_grid needs at least one panel: {title: x [n, 2]}")
    if lim is None:
        finite = [np.abs(x[np.isfinite(x).all(1)]).max() for x in arrays.values() if np.isfinite(x).any()]
        lim = 1.2 * max(finite, default=1.0)
    cols = min(cols or len(arrays), len(arrays))
    rows = -(-len(arrays) // cols)
    fig = Figure(figsize=(2.5 * cols, 2.7 * rows), layout="constrained", dpi=dpi)
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    for ax in axes[len(arrays):]:
        ax.set_axis_off()
    for ax, (name, x) in zip(axes, arrays.items()):
        ax.scatter(x[:, 0], x[:, 1], s=2, alpha=0.4, color="tab:blue", rasterized=True)
        _centers(ax, centers)
        frame_plane(ax, lim, name)
    if title:
        fig.suptitle(title)
    return fig


def oracle_error(ts, errors: dict[str, np.ndarray], *, title: str = "", dpi: float | None = None) -> Figure:
    """E‖v_θ(x_t, t) − u*(x_t, t)‖² against t, one line per labelled field (e.g. per training step)."""
    fig = Figure(figsize=(4.5, 3.0), layout="constrained", dpi=dpi)
    ax = fig.subplots()
    for name, err in errors.items():
        ax.plot(np.asarray(ts), np.asarray(err), marker="o", label=name)
    ax.set_yscale("log")
    ax.set_xlabel("t (0 noise, 1 data)")
    ax.set_ylabel("E‖v_θ − u*‖²")
    ax.legend(fontsize=8)
    ax.set_title(title or "learned field against the exact one", fontsize=9)
    return fig
