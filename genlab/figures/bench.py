"""The growth plot of ``genlab bench``: how the U-Net train step's time grows with batch size and image size."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure


def growth_figure(growth: dict, *, dpi: float | None = None) -> Figure:
    """Left: median step time against batch size, one line per image size (log-log; the dotted line is
    proportional growth from the smallest batch of the smallest image). Right: time per image pixel, which falls
    while the machine still has idle capacity at small batches and flattens where cost grows with work.

    growth: ``{"model", "sizes": [S], "batches": [N], "seconds": [S][N]}`` (``genlab.bench.train_step.bench_growth``).
    """
    sizes, batches = growth["sizes"], np.asarray(growth["batches"], float)
    seconds = np.asarray(growth["seconds"], float)  # [S, N]
    if seconds.shape != (len(sizes), len(batches)):
        raise ValueError(f"growth['seconds'] has shape {seconds.shape}, expected [sizes, batches] = "
                         f"{(len(sizes), len(batches))}")
    fig = Figure(figsize=(9.5, 3.8), layout="constrained", dpi=dpi)
    ax_time, ax_unit = fig.subplots(1, 2)
    for size, row in zip(sizes, seconds):
        ax_time.plot(batches, 1e3 * row, marker="o", label=f"{size}x{size}")
        ax_unit.plot(batches, 1e9 * row / (batches * size * size), marker="o", label=f"{size}x{size}")
    ref = 1e3 * seconds[0, 0] * batches / batches[0]
    ax_time.plot(batches, ref, linestyle=":", color="gray", label="proportional to batch")
    for ax in (ax_time, ax_unit):
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xticks(batches, [f"{int(b)}" for b in batches])
        ax.minorticks_off()
        ax.set_xlabel("batch size")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, title="image", title_fontsize=8)
    ax_time.set_ylabel("train step, median (ms)")
    ax_unit.set_ylabel("ns per image pixel")
    ax_time.set_title("step time", fontsize=9)
    ax_unit.set_title("time per unit of work", fontsize=9)
    fig.suptitle(f"genlab train step: {growth.get('model', 'U-Net')}", fontsize=10)
    return fig
