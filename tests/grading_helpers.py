"""Shared helpers for the grading tests: the fixture lab, fixture submissions, expectations."""

from __future__ import annotations

import re
from pathlib import Path

HERE = Path(__file__).resolve().parent
FIXTURE_LAB = HERE / "fixtures" / "labs" / "fixture_lab.py"
PRIVATE_TESTS = HERE / "fixtures" / "labs" / "private"
SUBMISSIONS = HERE / "fixtures" / "submissions"


def expectation(path: Path) -> dict[str, object]:
    """The ``# expect: q1=2 q2=0 status=ok`` line at the top of a fixture submission."""
    line = next(ln for ln in Path(path).read_text().splitlines() if ln.startswith("# expect:"))
    pairs = dict(re.findall(r"(\w+)=(\S+)", line))
    status = pairs.pop("status")
    return {"points": {q: float(v) for q, v in pairs.items()}, "status": status}


def write_notebook(py_path: Path, ipynb_path: Path, lab: str = "fixture_lab") -> Path:
    """A percent-format fixture submission -> the .ipynb a student would hand in."""
    import jupytext
    import nbformat

    nb = jupytext.reads(Path(py_path).read_text(), fmt="py:percent")
    nb.metadata["otter"] = {"assignment_name": lab}
    nb.metadata.setdefault("kernelspec", {"name": "python3", "display_name": "Python 3", "language": "python"})
    nbformat.write(nb, ipynb_path)
    return ipynb_path
