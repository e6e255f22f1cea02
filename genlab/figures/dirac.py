"""DiracGAN phase portraits (Mescheder et al. 2018, Fig. 1/3): the vector field and gradient-descent paths."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from genlab.diagnostics import dirac


def dirac_portrait(steps: int = 500, lr: float = 0.1, extent: float = 2.5, *, dpi: float | None = None) -> Figure:
    """One panel per REFERENCES.md run: the field v(θ, ψ) as arrows and the path from (1, 1) after ``steps``."""
    fig = Figure(figsize=(13, 4.2), layout="constrained", dpi=dpi)
    axes = fig.subplots(1, len(dirac.REFERENCE_RUNS))
    grid = np.linspace(-extent, extent, 17)
    theta, psi = np.meshgrid(grid, grid)
    for ax, (name, kw) in zip(axes, dirac.REFERENCE_RUNS.items()):
        u, v = dirac.vector_field(theta, psi, kw["loss"], kw["gamma"])
        ax.quiver(theta, psi, np.asarray(u), np.asarray(v), color="0.6", angles="xy")
        path = np.asarray(dirac.simulate(steps, lr, **kw))
        ax.plot(path[:, 0], path[:, 1], color="tab:blue", lw=1.2)
        ax.plot(*path[0], "o", color="tab:green", label="start (1, 1)")
        ax.plot(*path[-1], "s", color="tab:red", label=f"after {steps} steps")
        ax.plot(0, 0, "*", color="k", ms=10, label="equilibrium")
        ax.set(xlim=(-extent, extent), ylim=(-extent, extent), xlabel="θ (generator)", ylabel="ψ (discriminator)",
               title=f"{name}\n‖(θ, ψ)‖ = {np.linalg.norm(path[-1]):.3g}")
        ax.title.set_fontsize(9)
        ax.set_aspect("equal")
    axes[0].legend(fontsize=7, loc="lower left")
    fig.suptitle("DiracGAN: p = δ_θ, D(x) = ψx, data at 0; step 0.1")
    return fig
