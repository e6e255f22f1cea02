"""Writing a demo's figures: one file per ``Figure``, at one resolution."""

from __future__ import annotations

from pathlib import Path

from matplotlib.figure import Figure

DPI = 110


def save_figures(figures: dict[str, Figure], out_dir: str | Path) -> list[Path]:
    """Write each ``name -> Figure`` to ``out_dir/name`` (the folder is created). Returns the paths, in order."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, fig in figures.items():
        fig.savefig(out_dir / name, dpi=DPI)
        paths.append(out_dir / name)
    return paths
