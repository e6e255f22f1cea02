"""Files that ship with genlab: the repository's ``data/`` folder (Fashion-MNIST subset, reference-classifier
weights, pre-recorded GAN runs).

In a checkout or an editable install they are read from ``data/`` beside the package; a wheel
(``pip install "genlab @ git+..."``, e.g. on Colab) carries the same folder as ``genlab/_shipped/``
(``setup.py`` maps it), so labs and metrics work without the checkout.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def shipped_dir() -> Path:
    """The folder holding the shipped files: ``genlab/_shipped`` when installed from a wheel, else ``data/``."""
    installed = _PACKAGE / "_shipped"
    return installed if installed.is_dir() else _PACKAGE.parent / "data"


def shipped(*parts: str) -> Path:
    """Path of a shipped file or folder, e.g. ``shipped("gan_runs")`` (it may not exist; callers say so)."""
    return shipped_dir().joinpath(*parts)
