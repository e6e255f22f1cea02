"""Presets: ``tiny`` (tests, seconds), ``cpu`` (a 2-core laptop, minutes), ``gpu`` (full quality).

Every experiment config is a frozen dataclass with ``tiny()``, ``cpu()`` and ``gpu()``
classmethods; :func:`config_for` picks one by name, and :func:`auto_preset` picks ``cpu`` or
``gpu`` from the JAX backend.
"""

from __future__ import annotations

import os
from typing import Literal, TypeVar

from genlab.experiments import PRESETS

Preset = Literal["tiny", "cpu", "gpu"]

T = TypeVar("T")


def auto_preset() -> str:
    """``gpu`` when JAX runs on an accelerator (GPU or TPU), else ``cpu``."""
    import jax  # here, not at the top: the CLI reads PresetError without starting JAX

    return "cpu" if jax.default_backend() == "cpu" else "gpu"


# At ``tiny`` a run is mostly XLA compiling programs that it then calls a few times: quick compiles pay
# (`GENLAB_PRESET=tiny genlab demo`: 124 s with XLA's default optimisation, 87 s with these; the test suite uses
# the same flags). Not for cpu/gpu, where the compiled programs run long.
TINY_XLA_FLAGS = ("--xla_backend_optimization_level=0", "--xla_llvm_disable_expensive_passes=true")


def add_xla_flags(flags: tuple[str, ...] | list[str]) -> list[str]:
    """Add ``flags`` to ``$XLA_FLAGS`` (they take effect only if JAX's backend has not started yet), except a flag
    whose name is already set there (the user's setting wins). Returns the flags added."""
    have = os.environ.get("XLA_FLAGS", "")
    added = [f for f in flags if f.split("=")[0] not in have]
    if added:
        os.environ["XLA_FLAGS"] = " ".join([have, *added]).strip()
    return added


def compile_fast_for_tiny(preset: str) -> bool:
    """For the ``tiny`` preset, add :data:`TINY_XLA_FLAGS` to ``$XLA_FLAGS`` (they take effect only if JAX's
    backend has not started yet). A level already set in ``$XLA_FLAGS`` is left alone. Returns whether added."""
    if preset != "tiny" or "xla_backend_optimization_level" in os.environ.get("XLA_FLAGS", ""):
        return False
    return bool(add_xla_flags(TINY_XLA_FLAGS))


class PresetError(ValueError):
    """An unknown preset name (from an argument or from ``$GENLAB_PRESET``)."""


def resolve_preset(preset: str | None) -> str:
    """Validate a preset name. ``None`` reads ``$GENLAB_PRESET`` (e.g. ``tiny`` in the CI gate) and,
    when that is unset or ``auto``, picks one from the hardware. Raises :class:`PresetError`."""
    from_env = preset is None
    if preset is None:
        preset = os.environ.get("GENLAB_PRESET") or "auto"
    if preset == "auto":
        return auto_preset()
    if preset not in PRESETS:
        if from_env:
            raise PresetError(f"GENLAB_PRESET={preset!r} is not a preset: set it to one of {', '.join(PRESETS)} "
                              "or unset it (then cpu or gpu is picked from the hardware)")
        raise PresetError(f"unknown preset {preset!r}: choose one of {', '.join(PRESETS)} "
                          "(or leave it out to pick cpu/gpu from the hardware)")
    return preset


def config_for(config_cls: type[T], preset: str | None) -> T:
    """``config_cls.tiny()``, ``.cpu()`` or ``.gpu()`` for the resolved preset."""
    return getattr(config_cls, resolve_preset(preset))()
