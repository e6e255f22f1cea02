"""The "Diffusion vs Flow" demo's files: quality against NFE, trajectories and a transport GIF from the same noise,
field errors against the oracle, the closing note, and the shipped text-to-image models' images per NFE (latent
diffusion beside flow matching and the 2-rectified flow).

Inputs come from ``genlab.experiments.diffusion_vs_flow`` (a one-data-set ``summary``, trajectories
``{label: [N + 1, B, 2]}``, the closing note's lines) and, for the image grid, ``{row label: {nfe: images}}``
(``genlab.experiments.dvf_latent.latent_images_per_nfe``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from genlab.demos.files import save_figures
from genlab.figures import diffusion_vs_flow as figures

def write_dvf_demo(out_dir: str | Path, summary: Mapping, labels: Mapping[str, str], paths: Mapping[str, np.ndarray],
                   centers: np.ndarray | None, note: Sequence[str], *, animated: Sequence[str] = (),
                   trajectory_points: int = 16, latent: Mapping[str, Mapping[int, np.ndarray]] | None = None,
                   latent_title: str = "") -> list[Path]:
    """PNGs, a GIF of the ``animated`` labels of ``paths`` and ``dvf_closing_note.txt``; returns the files."""
    out_dir = Path(out_dir)
    data = summary.get("data", "")
    figs = {
        "dvf_quality_vs_nfe.png": figures.quality_vs_nfe(summary, labels, title=f"{data}: quality against NFE, "
                                                         "same network and budget, model and perfect model"),
        "dvf_trajectories.png": figures.trajectories({k: v[:, :trajectory_points] for k, v in paths.items()},
                                                     centers),
        "dvf_oracle_error.png": figures.oracle_error_per_t(summary),
    }
    if latent:
        figs["dvf_latent_per_nfe.png"] = figures.image_grid_per_nfe(latent, title=latent_title)
    written = save_figures(figs, out_dir)
    if animated:
        written.append(figures.transport_animation({k: paths[k] for k in animated}, out_dir / "dvf_transport.gif",
                                                   centers, title="noise to data: step by step against directly"))
    note_path = out_dir / "dvf_closing_note.txt"
    note_path.write_text("\n".join(note) + "\n")
    return written + [note_path]
