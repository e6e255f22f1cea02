"""Lab masters: where they are, what they are called, and their opening term table.

A master is ``labs/NN_name.py`` (jupytext percent format, otter-assign format); its lab name is
the file stem. See ``labs/README.md``.
"""

from __future__ import annotations

import re
from pathlib import Path

# The lecture's German terms that a lab's opening table maps to the lab's sections.
LECTURE_TERMS: tuple[str, ...] = (
    "Generator",
    "Diskriminator",
    "Mode Collapse",
    "Divergenz",
    "Encoder",
    "Decoder",
    "Skip Connection",
    "latentes Bild",
    "Sampler",
    "Entrauschen",
    "Diffusionsmodell",
    "Flow-Matching",
)


def repo_root() -> Path:
    """The checkout this package lives in (``genlab/grading/labs.py`` -> two levels up)."""
    return Path(__file__).resolve().parents[2]


def labs_dir() -> Path:
    """``./labs`` when the working directory has one, else the checkout's ``labs/``."""
    here = Path.cwd() / "labs"
    return here if here.is_dir() else repo_root() / "labs"


def all_masters(directory: Path | None = None) -> list[Path]:
    """Every lab master ``NN_name.py`` in ``directory`` (default :func:`labs_dir`), sorted."""
    directory = Path(directory) if directory is not None else labs_dir()
    return sorted(p for p in directory.glob("*.py") if re.match(r"\d+_\w+\.py$", p.name))


def resolve_master(lab: str) -> Path:
    """A lab name (``01_gan``) or a path to a master ``.py`` -> the master's path."""
    path = Path(lab)
    if path.suffix == ".py" or path.exists():
        if not path.is_file():
            raise FileNotFoundError(f"lab master {lab!r} does not exist: give an existing .py file")
        return path.resolve()
    candidate = labs_dir() / f"{lab}.py"
    if candidate.is_file():
        return candidate.resolve()
    known = ", ".join(p.stem for p in all_masters()) or "none"
    raise FileNotFoundError(
        f"no lab named {lab!r} in {labs_dir()}: give one of {known}, or a path to a master .py"
    )


def term_table(master_text: str) -> list[tuple[str, str]]:
    """(term, where) rows of the first Markdown table before the first question.

    A row counts when its first column names one of :data:`LECTURE_TERMS`.
    """
    head = re.split(r"#\s*BEGIN QUESTION", master_text, maxsplit=1, flags=re.IGNORECASE)[0]
    rows = []
    for line in head.splitlines():
        line = re.sub(r"^#\s?", "", line.strip()).strip()
        if not line.startswith("|"):
            continue
        cells = [c.strip() for c in line.strip("|").split("|")]
        first = cells[0].strip("*_` ")
        for term in LECTURE_TERMS:
            if first.lower() == term.lower():
                rows.append((term, cells[-1]))
    return rows


def figure_functions(cells) -> set[str]:
    """Names a notebook imports from ``genlab.figures`` (``from genlab.figures.gan2d import samples_over_training``)."""
    import ast

    names = set()
    for cell in cells:
        if cell.get("cell_type") != "code":
            continue
        source = "".join(cell.get("source", ""))
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("genlab.figures"):
                names.update(a.asname or a.name for a in node.names)
    return names


def _ends_with_figure_call(source: str, functions: set[str]) -> bool:
    import ast

    try:
        body = ast.parse(source).body
    except SyntaxError:
        return False
    last = body[-1] if body else None
    if not (isinstance(last, ast.Expr) and isinstance(last.value, ast.Call)):
        return False
    func = last.value.func
    return (func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)) in functions


def figure_cells_without_images(notebook: dict) -> list[str]:
    """Figure cells of an executed notebook that show no image: ``["cell 21: samples_over_training(...)"]``.

    A figure cell ends with a call of a function imported from ``genlab.figures``, or shows a Figure's text
    (``<Figure size 1380x260 with 6 Axes>``); it must carry an ``image/png`` (or SVG) output.
    """
    cells = notebook.get("cells", [])
    functions = figure_functions(cells)
    missing = []
    for index, cell in enumerate(cells):
        if cell.get("cell_type") != "code":
            continue
        source = "".join(cell.get("source", ""))
        outputs = cell.get("outputs", [])
        datas = [o.get("data", {}) for o in outputs]
        shows_text = any(str(d.get("text/plain", "")).startswith("<Figure size") for d in datas)
        if not (shows_text or _ends_with_figure_call(source, functions)):
            continue
        if not any("image/png" in d or "image/svg+xml" in d for d in datas):
            first = source.strip().splitlines()[-1][:80] if source.strip() else ""
            missing.append(f"cell {index}: {first}")
    return missing
