"""Grading settings a test reads on the grader's side, never from the student's namespace.

A test that needs the preset (the bar a trained model must clear, the number of steps it must have
run) calls :func:`preset`; the student's process gets the same value in ``$GENLAB_PRESET``, so the
notebook and the tests agree, and a notebook that rebinds ``PRESET`` or ``RUN`` changes nothing here.
"""

from __future__ import annotations

import os


def preset() -> str:
    """The preset being graded: ``$GENLAB_PRESET``, else what the hardware picks (as the notebook does)."""
    from genlab.presets import PresetError, resolve_preset

    try:
        return resolve_preset(os.environ.get("GENLAB_PRESET"))
    except PresetError:
        return os.environ.get("GENLAB_PRESET") or "cpu"


def for_preset(table: dict):
    """``table[preset()]``: e.g. ``for_preset({"tiny": 1500, "cpu": 6000, "gpu": 10000})``."""
    return table[preset()]
