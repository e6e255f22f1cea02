"""Presets: ``tiny`` (tests, seconds), ``cpu`` (a 2-core laptop, minutes), ``gpu`` (full quality).

Every experiment config is a frozen dataclass with ``tiny()``, ``cpu()`` and ``gpu()``
classmethods; :func:`config_for` picks one by name, and :func:`auto_preset` picks ``cpu`` or
``gpu`` from the JAX backend.
"""

from __future__ import annotations

import os
from typing import Literal, TypeVar

import jax

from genlab.experiments import PRESETS

Preset = Literal["tiny", "cpu", "gpu"]

T = TypeVar("T")


def auto_preset() -> str:
    """``gpu`` when JAX runs on an accelerator (GPU or TPU), else ``cpu``."""
    return "cpu" if jax.default_backend() == "cpu" else "gpu"


def resolve_preset(preset: str | None) -> str:
    """Validate a preset name. ``None`` reads ``$GENLAB_PRESET`` (e.g. ``tiny`` in the CI gate) and,
    when that is unset or ``auto``, picks one from the hardware."""
    if preset is None:
        preset = os.environ.get("GENLAB_PRESET") or "auto"
    if preset == "auto":
        return auto_preset()
    if preset not in PRESETS:
        raise ValueError(
            f"unknown preset {preset!r}: choose one of {', '.join(PRESETS)} "
            "(or leave it out to pick cpu/gpu from the hardware; check $GENLAB_PRESET too)"
        )
    return preset


def config_for(config_cls: type[T], preset: str | None) -> T:
    """``config_cls.tiny()``, ``.cpu()`` or ``.gpu()`` for the resolved preset."""
    return getattr(config_cls, resolve_preset(preset))()
