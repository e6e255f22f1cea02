"""A note written on every figure of a run, e.g. "tiny preset: untrained", so toy-sized output never passes for
the real thing.

``genlab demo --preset tiny`` sets it around every demo part (:func:`figure_note`); a lab's setup cell sets it
for the notebook (:func:`set_figure_note`). Writers call :func:`add_note` before saving (``save_figures``, the
GIF writers); notebooks add it when they show a figure. A plain module variable, not a context variable: a
notebook runs each cell in a fresh context, and the note must outlive the cell that set it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from matplotlib.figure import Figure

TINY_NOTE = "tiny preset: untrained"  # what genlab demo --preset tiny writes on its figures

_note: str | None = None


def current_note() -> str | None:
    """The note figures get now (None: no note)."""
    return _note


def set_figure_note(text: str | None) -> None:
    """Note every figure shown or saved from now on with ``text`` (None: no note)."""
    global _note
    _note = text or None


@contextlib.contextmanager
def figure_note(text: str | None) -> Iterator[None]:
    """Note the figures shown or saved inside the block with ``text`` (None: no note); the old note after it."""
    global _note
    before, _note = _note, text or None
    try:
        yield
    finally:
        _note = before


def add_note(fig: Figure, text: str | None = None) -> Figure:
    """Write ``text`` (default: :func:`current_note`) in red in the bottom-left corner of ``fig``, once; returns
    ``fig``. A figure already noted with the same text is left as it is."""
    text = text if text is not None else _note
    if text and getattr(fig, "_genlab_note", None) != text:
        fig.text(0.005, 0.005, text, ha="left", va="bottom", fontsize=8, color="tab:red", alpha=0.85,
                 bbox=dict(facecolor="white", edgecolor="tab:red", alpha=0.8, pad=1.5))
        fig._genlab_note = text
    return fig
