"""Lecture figures of "Diffusion vs Flow": quality against NFE, trajectories from the same noise, field errors per
t, and an image grid per NFE.

Inputs are what ``genlab eval diffusion-vs-flow`` returns for one data set (``summary``: its ``table``,
``adaptive``, ``ddpm_full`` and ``oracle_error``) and trajectories ``{label: xs [N + 1, B, 2]}`` from
``genlab.experiments.diffusion_vs_flow.trajectories``. Every function returns a ``Figure`` and shows nothing.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure

from genlab.figures.flow2d import frame_plane
from genlab.figures.gan_images import tile

# One colour per model family, one line style per sampler (the same in every figure).
COLORS = {"ddpm": "tab:red", "ddim": "tab:orange", "dpm_solver": "tab:brown", "pf_euler": "tab:pink",
          "pf_heun": "tab:purple", "pf_dopri5": "tab:purple", "flow_euler": "tab:blue", "flow_heun": "tab:cyan",
          "flow_dopri5": "tab:cyan", "rf2_euler": "tab:green"}
METRICS = {"modes_covered": "modes covered", "high_quality": "high-quality fraction",
           "energy_distance": "energy distance (log)"}


def _series(points: Sequence[dict | None], which: str, metric: str) -> tuple[np.ndarray, np.ndarray]:
    rows = [(p["nfe"] if which == "model" else p.get("perfect_model_nfe", p["nfe"]), p[which].get(metric))
            for p in points if p is not None and which in p and p[which].get(metric) is not None]
    if not rows:
        return np.zeros(0), np.zeros(0)
    x, y = map(np.asarray, zip(*rows))
    return x.astype(float), y.astype(float)


def quality_vs_nfe(summary: Mapping, labels: Mapping[str, str] | None = None, *, title: str = "",
                   metrics: Sequence[str] = ("modes_covered", "high_quality", "energy_distance"),
                   perfect: bool = True, dpi: float | None = None) -> Figure:
    """One panel per metric against NFE (log scale): every arm's model (solid, markers) and, with ``perfect``, its
    perfect model (dashed). Dopri5 arms are points at the NFE each tolerance took; DDPM's full run is a star."""
    metrics = [m for m in metrics if any(p and m in p["model"] for pts in summary["table"].values() for p in pts)]
    fig = Figure(figsize=(4.2 * len(metrics) + 1.8, 3.6), layout="constrained", dpi=dpi)
    axes = fig.subplots(1, len(metrics), squeeze=False)[0]
    arms = {**summary["table"], **summary.get("adaptive", {})}
    for ax, metric in zip(axes, metrics):
        for arm, points in arms.items():
            color, label = COLORS.get(arm, "k"), (labels or {}).get(arm, arm)
            adaptive = arm in summary.get("adaptive", {})
            x, y = _series(points, "model", metric)
            if metric == "energy_distance":
                y = np.maximum(y, 1e-5)
            ax.plot(x, y, "D" if adaptive else "o-", color=color, ms=4, lw=1.4, label=label)
            if perfect:
                xo, yo = _series(points, "perfect_model", metric)
                if metric == "energy_distance":
                    yo = np.maximum(yo, 1e-5)
                ax.plot(xo, yo, "d" if adaptive else "--", color=color, lw=1.0, ms=4, alpha=0.7,
                        mfc="none")
        full = summary.get("ddpm_full")
        if full and full["model"].get(metric) is not None:
            ax.plot([full["nfe"]], [max(full["model"][metric], 1e-5) if metric == "energy_distance" else
                                    full["model"][metric]], "*", color=COLORS["ddpm"], ms=10)
        if metric == "modes_covered" and arms:
            num = next((p["model"].get("num_modes") for pts in arms.values() for p in pts if p), None)
            if num:
                ax.axhline(num, color="k", lw=0.6, ls=":")
        if metric == "energy_distance":
            ax.set_yscale("log")
            floor = summary.get("energy_floor")
            if floor is not None:
                ax.axhline(max(floor, 1e-5), color="k", lw=0.6, ls=":")
        ax.set_xscale("log", base=2)
        ax.set_xlabel("network evaluations (NFE)")
        ax.set_title(METRICS.get(metric, metric), fontsize=10)
    axes[-1].legend(fontsize=7, loc="center left", bbox_to_anchor=(1.02, 0.5), frameon=False,
                    title="solid: model\ndashed: perfect model" if perfect else None, title_fontsize=7)
    fig.suptitle(title or f"{summary.get('data', '')}: quality against NFE")
    return fig


def trajectories(paths: Mapping[str, np.ndarray], centers: np.ndarray | None = None, *, title: str = "",
                 cols: int = 4, lim: float | None = None, dpi: float | None = None) -> Figure:
    """One panel per arm: ``paths[label]: [N + 1, B, 2]`` (the states from the noise to the sample) as lines from
    the same noise (dots) to where they end (crosses); mode centres in red."""
    n = len(paths)
    cols = min(cols, n)
    rows = -(-n // cols)
    fig = Figure(figsize=(2.7 * cols, 2.8 * rows), layout="constrained", dpi=dpi)
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    if lim is None:
        everything = np.concatenate([np.asarray(p).reshape(-1, 2) for p in paths.values()])
        lim = float(np.nanpercentile(np.abs(everything), 99.5)) * 1.1
    for ax, (label, xs) in zip(axes, paths.items()):
        xs = np.asarray(xs)
        for b in range(xs.shape[1]):
            ax.plot(xs[:, b, 0], xs[:, b, 1], "-", lw=0.8, alpha=0.8)
        ax.plot(xs[0, :, 0], xs[0, :, 1], ".", color="k", ms=3)
        ax.plot(xs[-1, :, 0], xs[-1, :, 1], "x", color="k", ms=4)
        if centers is not None:
            ax.scatter(centers[:, 0], centers[:, 1], s=25, marker="+", color="tab:red", linewidths=1.0, zorder=3)
        frame_plane(ax, lim, f"{label} ({xs.shape[0] - 1} states)", fontsize=8)
    for ax in axes[n:]:
        ax.axis("off")
    fig.suptitle(title or "from the same noise: curved against straight")
    return fig


def oracle_error_per_t(summary: Mapping, *, title: str = "", dpi: float | None = None) -> Figure:
    """Left: each model's error in its own parameterisation (ε for diffusion, velocity for the flows); right: the
    implied denoiser's error E‖x̂1 − E[x1 | x_t]‖², the same target for all, against the OT time t (diffusion at
    the same signal-to-noise ratio)."""
    err = summary["oracle_error"]
    t = np.asarray(err["t"])
    fig = Figure(figsize=(9, 3.3), layout="constrained", dpi=dpi)
    ax_n, ax_d = fig.subplots(1, 2)
    styles = {"diffusion": ("tab:red", "diffusion: E‖ε̂ − ε*‖²"), "flow": ("tab:blue", "flow: E‖v̂ − u*‖²"),
              "rectified": ("tab:green", "2-rectified: E‖v̂ − u*‖² (u*: not its target)")}
    for kind, (color, label) in styles.items():
        if kind not in err:
            continue
        native = next(v for k, v in err[kind].items() if k != "data_mse")
        ax_n.plot(t, native, "o-", color=color, label=label, ms=4)
        ax_d.plot(t, err[kind]["data_mse"], "o-", color=color, label=kind, ms=4)
    for ax, name in ((ax_n, "own parameterisation"), (ax_d, "denoiser E‖x̂1 − E[x1|x_t]‖²")):
        ax.set_yscale("log")
        ax.set_xlabel("t (OT time; diffusion at the same SNR)")
        ax.set_title(name, fontsize=10)
        ax.legend(fontsize=7)
    fig.suptitle(title or f"{summary.get('data', '')}: error of each learned field against the exact one")
    return fig


def image_grid_per_nfe(images: Mapping[str, Mapping[int, np.ndarray]], *, title: str = "", cols: int = 4,
                       dpi: float | None = None) -> Figure:
    """Rows: arms; columns: NFE; each cell the tile of ``images[arm][nfe]: [P, H, W, C]`` in [-1, 1] (the same
    prompts and start noise in every cell). An arm without images at some NFE leaves its cell blank."""
    nfes = sorted({n for per in images.values() for n in per})
    rows = len(images)
    p = max((len(x) for per in images.values() for x in per.values()), default=1)
    aspect = -(-p // min(cols, p)) / min(cols, p)  # a cell's tile: height / width
    fig = Figure(figsize=(1.7 * len(nfes) + 1.6, (1.7 * aspect + 0.35) * rows + 0.8), layout="constrained", dpi=dpi)
    axes = fig.subplots(rows, len(nfes), squeeze=False)
    for r, (arm, per) in enumerate(images.items()):
        for c, n in enumerate(nfes):
            ax = axes[r, c]
            ax.set_xticks([])
            ax.set_yticks([])
            if n in per:
                ax.imshow(tile(per[n], min(cols, len(per[n]))), cmap="gray", vmin=0, vmax=1)
            else:
                ax.axis("off")
            if r == 0:
                ax.set_title(f"NFE {n}", fontsize=9)
            if c == 0:
                ax.set_ylabel(arm, fontsize=8, rotation=0, ha="right", va="center")
    width = fig.get_size_inches()[0]
    fig.suptitle(textwrap.fill(title or "images per NFE", width=max(int(width * 11), 30)), fontsize=9)
    return fig


def transport_animation(paths: Mapping[str, np.ndarray], path, centers: np.ndarray | None = None, *,
                        frames: int = 24, fps: int = 6, title: str = "", lim: float | None = None,
                        dpi: float | None = None):
    """Write a GIF: side by side, each arm's sample cloud ``paths[label]: [N + 1, B, 2]`` moving from the noise to
    the data, frame f showing the state at fraction f / (frames − 1) of the arm's own states (so an arm with 1
    step jumps once, one with 32 steps moves gradually). Returns the path."""
    from pathlib import Path

    from matplotlib.animation import FuncAnimation, PillowWriter

    labels = list(paths)
    fig = Figure(figsize=(2.8 * len(labels), 3.1), layout="constrained", dpi=dpi)
    axes = fig.subplots(1, len(labels), squeeze=False)[0]
    if lim is None:
        lim = float(np.nanpercentile(np.abs(np.concatenate([np.asarray(p)[-1] for p in paths.values()])), 99.5)) + 0.5

    def draw(f: int):
        for ax, label in zip(axes, labels):
            xs = np.asarray(paths[label])
            i = int(round(f / max(frames - 1, 1) * (xs.shape[0] - 1)))
            ax.clear()
            ax.scatter(xs[i, :, 0], xs[i, :, 1], s=2, alpha=0.5, color=COLORS.get(label, "tab:blue"),
                       rasterized=True)
            if centers is not None:
                ax.scatter(centers[:, 0], centers[:, 1], s=25, marker="+", color="tab:red", linewidths=1.0)
            frame_plane(ax, lim, f"{label}\nstate {i} of {xs.shape[0] - 1}", fontsize=8)
        return ()

    if title:
        fig.suptitle(title, fontsize=9)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    FuncAnimation(fig, draw, frames=frames, blit=False).save(path, writer=PillowWriter(fps=fps), dpi=80)
    return path
