"""Writing a demo part's figures: one place that decides file names, formats, resolution and the note.

Demo parts name their files ``*.png``; ``genlab demo --format svg|pdf --dpi N`` changes how every part writes
them through :func:`file_settings` (a part's ``make(config, out_dir)`` never sees it). Each figure gets the
run's note (``genlab demo --preset tiny``: "tiny preset: untrained") before it is saved.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator
from pathlib import Path

from genlab.figures.notes import add_note

DPI = 110
FORMATS = ("png", "svg", "pdf")


@dataclasses.dataclass(frozen=True)
class FileSettings:
    format: str = "png"  # one of FORMATS
    dpi: float = DPI  # raster resolution (PNG; the raster parts of SVG and PDF)

    def __post_init__(self):
        if self.format not in FORMATS:
            raise ValueError(f"unknown figure format {self.format!r}: choose one of {', '.join(FORMATS)}")
        if not self.dpi > 0:
            raise ValueError(f"dpi must be a positive number, got {self.dpi}")


_settings = FileSettings()


@contextlib.contextmanager
def file_settings(format: str = "png", dpi: float = DPI) -> Iterator[FileSettings]:
    """Inside the block, :func:`save_figures` writes ``format`` files at ``dpi``."""
    global _settings
    before, _settings = _settings, FileSettings(format, dpi)
    try:
        yield _settings
    finally:
        _settings = before


def save_figures(figures: dict, out_dir: str | Path, dpi: float | None = None) -> list[Path]:
    """Save ``{file name: Figure}`` under ``out_dir`` (created), noted, in the current format (the name's suffix
    becomes ``.svg``/``.pdf`` when asked); returns the paths in order."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, fig in figures.items():
        path = (out_dir / name).with_suffix(f".{_settings.format}")
        add_note(fig).savefig(path, dpi=dpi or _settings.dpi)
        written.append(path)
    return written
