"""Imports flow one way: labs/cli → experiments/bench → demos/figures/diagnostics/metrics → pipelines →
samplers → train → objectives/schedules/paths → models → text/data.

Every ``import``/``from`` of a genlab module inside genlab (at any depth: function-level imports count)
must name a module in the same layer or a lower one.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "genlab"

# Higher number = higher layer. A module may import its own layer and the ones below.
LAYERS: dict[str, int] = {
    "cli": 9, "grading": 9, "presets": 9, "notebook": 9,
    "experiments": 8, "bench": 8,
    "demos": 7, "figures": 7, "diagnostics": 7, "metrics": 7,
    "pipelines": 6,
    "samplers": 5,
    "train": 4,
    "objectives": 3, "schedules": 3, "paths": 3,
    "models": 2,
    "text": 1, "data": 1, "shipped": 1, "_shipped": 1,
}
ORDER = ("labs/cli → experiments/bench → demos/figures/diagnostics/metrics → pipelines → samplers → train → "
         "objectives/schedules/paths → models → text/data")


def room_of(module: str) -> str | None:
    """``genlab.models.unet.unet`` -> ``models``; ``genlab`` itself -> None (imports of it are free)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "genlab" else None


def module_name(path: Path, root: Path = ROOT) -> str:
    rel = path.relative_to(root.parent).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts)


def imported_modules(source: str, module: str, is_package: bool) -> list[tuple[int, str]]:
    """``(line, module)`` of every genlab import in ``source`` (relative imports resolved)."""
    out = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names if a.name.split(".")[0] == "genlab"]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".") if is_package else module.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "genlab":
                continue
            if target == "genlab":  # from genlab import experiments -> genlab.experiments
                out += [(node.lineno, f"genlab.{a.name}") for a in node.names]
            else:
                out.append((node.lineno, target))
    return out


def violations(root: Path = ROOT) -> list[str]:
    found = []
    for path in sorted(root.rglob("*.py")):
        module = module_name(path, root)
        room = room_of(module)
        if room is None:
            continue
        if room not in LAYERS:
            found.append(f"{path.relative_to(root.parent)}: room {room!r} has no layer; add it to LAYERS")
            continue
        for line, target in imported_modules(path.read_text(), module, path.name == "__init__.py"):
            other = room_of(target)
            if other is None or other == room:
                continue
            if other not in LAYERS:
                found.append(f"{path.relative_to(root.parent)}:{line}: imports {target}, a room with no layer")
            elif LAYERS[other] > LAYERS[room]:
                found.append(f"{path.relative_to(root.parent)}:{line}: {room} (layer {LAYERS[room]}) imports "
                             f"{target} from {other} (layer {LAYERS[other]}), a layer above it")
    return found


def test_every_import_flows_down():
    found = violations()
    assert not found, f"imports against the architecture ({ORDER}):\n" + "\n".join(found)


def test_every_room_has_a_layer():
    rooms = {p.name for p in ROOT.iterdir() if p.is_dir() and not p.name.startswith("__")}
    rooms |= {p.stem for p in ROOT.glob("*.py") if p.stem != "__init__"}
    assert rooms <= set(LAYERS), f"rooms without a layer: {sorted(rooms - set(LAYERS))}"


def test_a_planted_back_import_is_named(tmp_path):
    """The checker itself: a model that imports an experiment is caught, with the file and the import."""
    pkg = tmp_path / "genlab"
    (pkg / "models").mkdir(parents=True)
    (pkg / "experiments").mkdir()
    (pkg / "models" / "bad.py").write_text("def f():\n    from genlab.experiments.gan2d import run\n")
    (pkg / "experiments" / "ok.py").write_text("from genlab.models import bad\nfrom . import other\n")
    found = violations(pkg)
    assert len(found) == 1
    assert "genlab/models/bad.py:2" in found[0] and "genlab.experiments.gan2d" in found[0]


@pytest.mark.parametrize("source, expected", [
    ("from genlab import experiments", ["genlab.experiments"]),
    ("from ..data import batches", ["genlab.data"]),
    ("import genlab.train.engine as e", ["genlab.train.engine"]),
    ("import numpy", []),
])
def test_imports_are_parsed(source, expected):
    assert [m for _, m in imported_modules(source, "genlab.models.x", False)] == expected
