"""Writing a demo part's figures: one place that decides file names, formats and resolution."""

from __future__ import annotations

from pathlib import Path

DPI = 110


def save_figures(figures: dict, out_dir: str | Path, dpi: int = DPI) -> list[Path]:
    """Save ``{file name: Figure}`` under ``out_dir`` (created); returns the paths in order."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, fig in figures.items():
        fig.savefig(out_dir / name, dpi=dpi)
        written.append(out_dir / name)
    return written
