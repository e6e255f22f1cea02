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


def execute_in_kernel(ipynb_path: Path, workdir: Path, timeout: int = 900):
    """Run every cell of a notebook in a Jupyter kernel, as a student's "Run All" does; returns the executed
    notebook (errors stay in the outputs; execution stops at the first one, like Run All)."""
    import nbclient
    import nbformat

    nb = nbformat.read(ipynb_path, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=timeout, kernel_name="python3",
                                     resources={"metadata": {"path": str(workdir)}})
    try:
        client.execute()
    except nbclient.exceptions.CellExecutionError:
        pass
    return nb


def error_outputs(nb) -> list[str]:
    """``cell N: Error: message`` for every error output of an executed notebook."""
    return [f"cell {i}: {o.ename}: {o.evalue[:200]}" for i, c in enumerate(nb.cells) if c.cell_type == "code"
            for o in c.get("outputs", []) if o.output_type == "error"]
