"""Registered experiments behind ``genlab eval`` and figure makers behind ``genlab demo``.

An experiment is a function ``run(preset, seeds, variant) -> dict`` that trains, evaluates and
returns JSON-ready metrics; ``genlab eval`` adds the preset, seeds, variant and wall seconds.
A demo is a function ``make(preset, out_dir) -> list[Path]`` that writes figures.

Modules register themselves on import; :data:`MODULES` lists the ones to import.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

# Experiment modules, imported lazily by ``load()`` (each registers its experiments and demos).
MODULES: tuple[str, ...] = (
    "genlab.experiments.classifier",
    "genlab.experiments.gan",
    "genlab.experiments.gan_fmnist",
    "genlab.experiments.unet_skip",
    "genlab.experiments.vae",
)


@dataclasses.dataclass(frozen=True)
class Experiment:
    name: str
    run: Callable[..., dict[str, Any]]  # run(preset: str, seeds: list[int], variant: str | None)
    description: str
    variants: tuple[str, ...] = ()  # allowed --variant values; first is the default
    default_seeds: int = 1


@dataclasses.dataclass(frozen=True)
class Demo:
    name: str
    make: Callable[[str, Path], list[Path]]  # make(preset, out_dir) -> files written
    order: int = 100


EXPERIMENTS: dict[str, Experiment] = {}
DEMOS: dict[str, Demo] = {}


def register(name: str, *, description: str, variants: tuple[str, ...] = (), default_seeds: int = 1):
    """Decorator: register ``run(preset, seeds, variant) -> dict`` as experiment ``name``."""

    def wrap(fn: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
        EXPERIMENTS[name] = Experiment(name, fn, description, tuple(variants), default_seeds)
        return fn

    return wrap


def register_demo(name: str, *, order: int = 100):
    """Decorator: register ``make(preset, out_dir) -> list[Path]`` as a part of ``genlab demo``."""

    def wrap(fn: Callable[[str, Path], list[Path]]) -> Callable[[str, Path], list[Path]]:
        DEMOS[name] = Demo(name, fn, order)
        return fn

    return wrap


def load() -> None:
    """Import every experiment module that exists (modules register on import)."""
    for module in MODULES:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as err:
            if err.name != module:  # a real missing dependency inside the module
                raise


def get(name: str) -> Experiment:
    load()
    if name not in EXPERIMENTS:
        known = ", ".join(sorted(EXPERIMENTS)) or "(none)"
        raise SystemExit(f"genlab: unknown experiment {name!r}; registered experiments: {known}")
    return EXPERIMENTS[name]
