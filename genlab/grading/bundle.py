"""An autograder bundle: ``dist/<lab>/autograder/`` as written by ``genlab assign``.

Layout::

    genlab_bundle.json    lab name, seed, questions in order, verdicts (trusted | in-process)
    tests/<q>.py          otter exception-based test files, hidden and private tests included
    <lab>.ipynb           the solution notebook (graded in ``genlab assign`` and the CI gate)
    <lab>-autograder_*.zip  otter's own Gradescope zip (same tests)

The grader reads every test file into memory once, before any submission runs, so nothing a
submission does to files on disk can change the tests.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

MANIFEST = "genlab_bundle.json"


@dataclasses.dataclass(frozen=True)
class Bundle:
    root: Path
    lab: str
    notebook: str
    seed_variable: str | None
    seed: int | None
    questions: tuple[str, ...]
    sources: dict[str, str]  # question -> test file source
    verdicts: str = "trusted"  # trusted: tests run in the grader; in-process: the old format (labs 03-05)

    @property
    def legacy(self) -> bool:
        """Tests in the old format: run by otter in the student's own process."""
        return self.verdicts != "trusted"

    @property
    def solution_notebook(self) -> Path:
        return self.root / self.notebook

    def test_files(self) -> dict:
        """Fresh otter ``ExceptionTestFile`` objects, one per question (points resolved)."""
        from otter.test_files.exception_test import ExceptionTestFile

        return {q: ExceptionTestFile.from_string(self.sources[q], path=f"{q}.py") for q in self.questions}

    def possible(self) -> dict[str, float]:
        return {q: float(tf.possible) for q, tf in self.test_files().items()}


def find_bundle(lab: str | Path, dist: Path | None = None) -> Path:
    """Resolve ``--lab``: a bundle folder, ``dist/<lab>`` or a lab name under ``dist``."""
    path = Path(lab)
    for candidate in (path, path / "autograder"):
        if (candidate / MANIFEST).is_file():
            return candidate.resolve()
    from genlab.grading.labs import repo_root

    roots = [Path(dist)] if dist is not None else [Path.cwd() / "dist", repo_root() / "dist"]
    for root in roots:
        candidate = root / str(lab) / "autograder"
        if (candidate / MANIFEST).is_file():
            return candidate.resolve()
    where = " or ".join(str(r / str(lab) / "autograder") for r in roots)
    raise FileNotFoundError(
        f"no autograder bundle for lab {str(lab)!r} (looked in {where}): "
        f"run `genlab assign {lab}` first, or pass --lab PATH to a bundle folder"
    )


def load_bundle(root: Path) -> Bundle:
    root = Path(root).resolve()
    manifest_path = root / MANIFEST
    if not manifest_path.is_file():
        raise FileNotFoundError(f"{root} is not an autograder bundle (no {MANIFEST}): run `genlab assign`")
    manifest = json.loads(manifest_path.read_text())
    questions = tuple(manifest["questions"])
    sources = {}
    for q in questions:
        test_path = root / "tests" / f"{q}.py"
        if not test_path.is_file():
            raise FileNotFoundError(f"bundle {root} lacks tests/{q}.py: rebuild it with `genlab assign`")
        sources[q] = test_path.read_text()
    return Bundle(
        root=root,
        lab=manifest["lab"],
        notebook=manifest["notebook"],
        seed_variable=manifest.get("seed_variable"),
        seed=manifest.get("seed"),
        questions=questions,
        sources=sources,
        verdicts=manifest.get("verdicts", "in-process"),  # bundles from before the trusted format
    )
