"""Registered experiments behind ``genlab eval`` and demo parts behind ``genlab demo``.

Every experiment has the same shape (the template is ``genlab/experiments/README.md``):

- one frozen config tree whose ``tiny()``, ``cpu()`` and ``gpu()`` classmethods are the only place
  sizes live;
- variants: named edits ``edit(config) -> config`` (``dataclasses.replace``), the first the default;
- ``run(config, seeds) -> dict`` that trains, evaluates and returns JSON-ready metrics.

The preset is resolved once, at the edge (the CLI or a lab's setup cell): ``Experiment.configure``
turns a preset name and a variant into a config, and only configs travel further down.
A demo part is ``make(config, out_dir) -> list[Path]`` with a config class of its own; a shipper
``ship(config, out_dir=None)`` retrains the weights that ship in ``data/`` (``genlab ship NAME``).
Modules register themselves on import; :data:`MODULES` lists the ones to import.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

# Experiment modules, imported lazily by ``load()`` (each registers its experiments and demos).
MODULES: tuple[str, ...] = (
    "genlab.experiments.classifier",
    "genlab.experiments.clip",
    "genlab.experiments.diffusion_vs_flow",
    "genlab.experiments.flow2d",
    "genlab.experiments.gan2d",
    "genlab.experiments.gan_fmnist",
    "genlab.experiments.unet_skip",
    "genlab.experiments.vae",
    "genlab.experiments.latent_diffusion",
    "genlab.experiments.flow_latent",
)

PRESETS: tuple[str, ...] = ("tiny", "cpu", "gpu")  # the classmethods every config tree has

Edit = Callable[[Any], Any]


def identity(config):
    """The default variant's edit: the preset itself."""
    return config


def over_seeds(reports: list[dict[str, Any]]) -> dict[str, Any]:
    """One seed's report as it is; for several, the mean of every float key beside ``per_seed`` (the reports)."""
    if len(reports) == 1:
        return reports[0]
    means = {k: sum(r[k] for r in reports) / len(reports) for k, v in reports[0].items() if isinstance(v, float)}
    return {**means, "per_seed": reports}


def _preset_config(config_cls: type, preset: str):
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}: choose one of {', '.join(PRESETS)}")
    return getattr(config_cls, preset)()


@dataclasses.dataclass(frozen=True)
class Experiment:
    name: str
    run: Callable[[Any, list[int]], dict[str, Any]]  # run(config, seeds)
    config: type  # the config tree class, with tiny()/cpu()/gpu()
    description: str
    variants: Mapping[str, Edit] = dataclasses.field(default_factory=dict)  # first is the default
    default_seeds: int = 1
    xla_flags: tuple[str, ...] = ()  # added to $XLA_FLAGS by `genlab eval` / `genlab ship` (genlab.presets)

    @property
    def default_variant(self) -> str | None:
        return next(iter(self.variants), None)

    def configure(self, preset: str, variant: str | None = None):
        """The config of ``preset`` (a resolved name) with ``variant``'s edit applied (None: the default)."""
        if not self.variants:
            if variant is not None:
                raise ValueError(f"experiment {self.name!r} takes no variant (got {variant!r})")
            return _preset_config(self.config, preset)
        variant = variant or self.default_variant
        if variant not in self.variants:
            raise ValueError(f"experiment {self.name!r} has no variant {variant!r}; "
                             f"choose one of {', '.join(self.variants)}")
        return self.variants[variant](_preset_config(self.config, preset))


@dataclasses.dataclass(frozen=True)
class Demo:
    name: str
    make: Callable[[Any, Path], list[Path]]  # make(config, out_dir) -> files written
    config: type  # with tiny()/cpu()/gpu()
    order: int = 100

    def configure(self, preset: str):
        return _preset_config(self.config, preset)


EXPERIMENTS: dict[str, Experiment] = {}
DEMOS: dict[str, Demo] = {}
SHIPPERS: dict[str, Callable[..., dict[str, Any]]] = {}  # experiment name -> ship(config, out_dir=None)


def register(name: str, *, config: type, description: str, variants: Mapping[str, Edit] | None = None,
             default_seeds: int = 1, xla_flags: tuple[str, ...] = ()):
    """Decorator: register ``run(config, seeds) -> dict`` as experiment ``name``; ``xla_flags``: XLA flags its
    command-line runs use (e.g. :data:`genlab.train.xla_flags.CONV_XLA_FLAGS`)."""

    def wrap(fn: Callable[[Any, list[int]], dict[str, Any]]):
        EXPERIMENTS[name] = Experiment(name, fn, config, description, dict(variants or {}), default_seeds,
                                       tuple(xla_flags))
        return fn

    return wrap


def register_demo(name: str, *, config: type, order: int = 100):
    """Decorator: register ``make(config, out_dir) -> list[Path]`` as a part of ``genlab demo``."""

    def wrap(fn: Callable[[Any, Path], list[Path]]):
        DEMOS[name] = Demo(name, fn, config, order)
        return fn

    return wrap


def register_ship(name: str):
    """Decorator: ``ship(config, out_dir=None) -> report`` trains experiment ``name``'s model and writes the
    weights genlab ships in ``data/`` (``genlab ship NAME``)."""

    def wrap(fn):
        SHIPPERS[name] = fn
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
