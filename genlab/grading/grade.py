"""Grade a batch of submitted notebooks: ``genlab grade SUBMISSIONS... --out grades.csv``."""

from __future__ import annotations

import json
import time
from pathlib import Path

from genlab.grading import results as res
from genlab.grading.bundle import Bundle, find_bundle, load_bundle
from genlab.grading.sandbox import Limits, RunReport, run_submission


def collect(paths: list[Path]) -> list[tuple[str, Path]]:
    """(student id, notebook) for every ``.ipynb`` given or found under a given folder."""
    found: list[tuple[str, Path]] = []
    for path in map(Path, paths):
        if path.is_dir():
            for nb in sorted(path.rglob("*.ipynb")):
                if ".ipynb_checkpoints" not in nb.parts:
                    found.append((nb.relative_to(path).with_suffix("").as_posix(), nb))
        elif not path.exists():
            raise FileNotFoundError(f"{path} not found: give existing .ipynb files or folders of them")
        elif path.suffix == ".ipynb" and path.is_file():
            found.append((path.stem, path))
        else:
            raise FileNotFoundError(f"{path} is neither a notebook (.ipynb) nor a folder of notebooks")
    ids = [s for s, _ in found]
    dupes = sorted({s for s in ids if ids.count(s) > 1})
    if dupes:
        raise ValueError(f"two submissions share the id(s) {dupes}: give folders, not same-named files")
    return found


def notebook_problem(notebook: Path) -> str | None:
    """Why ``notebook`` cannot be graded as a Jupyter notebook (not JSON, no cells), or None."""
    try:
        data = json.loads(Path(notebook).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        return f"{Path(notebook).name} could not be read ({exc})"
    except ValueError as exc:
        return (f"{Path(notebook).name} is not a Jupyter notebook (not valid JSON: {exc}): hand in the .ipynb file "
                "that Jupyter saves (File > Save), not a script or an export")
    if not isinstance(data, dict) or not isinstance(data.get("cells"), list):
        return f"{Path(notebook).name} is JSON but no Jupyter notebook (no cells): hand in the .ipynb file Jupyter saves"
    return None


def _lab_of(notebook: Path) -> str:
    try:
        meta = json.loads(notebook.read_text(encoding="utf-8")).get("metadata", {})
    except (OSError, ValueError):
        meta = {}
    name = meta.get("otter", {}).get("assignment_name") if isinstance(meta.get("otter"), dict) else None
    if not name:
        raise ValueError(f"{notebook}: cannot tell which lab this is; pass --lab LAB")
    return str(name)


def grade_batch(
    submissions: list[Path],
    out_csv: Path,
    *,
    lab: str | None = None,
    dist: Path | None = None,
    limits: Limits = Limits(),
    results_json: bool = False,
    feedback_dir: Path | None = None,
    require_isolation: bool = False,
    log=print,
) -> list[res.Graded]:
    """Grade every submission (each in its own process), write the CSV and one feedback per student.

    The isolation this machine allows is probed once, printed, and recorded for every submission;
    ``require_isolation`` refuses to grade (ValueError) when a mechanism is missing.
    """
    from genlab.grading import isolation as iso
    from genlab.grading.process import become_subreaper
    from genlab.grading.sandbox import _matplotlib_cache

    out_csv = Path(out_csv).resolve()
    feedback_dir = Path(feedback_dir or out_csv.with_name(out_csv.stem + "_feedback")).resolve()
    todo = collect(submissions)
    jail = iso.probe(_matplotlib_cache())
    log(f"[genlab grade] isolation of every submission: {jail.describe()}")
    if not jail.full:
        missing = ", ".join(f"{m} ({why})" for m, why in jail.missing.items())
        if require_isolation:
            raise ValueError(f"isolation required, but this machine lacks: {missing}")
        log(f"[genlab grade] WARNING: grading with weaker isolation; missing: {missing} (see docs/instructors.md)")
    become_subreaper()  # orphans of a submission come back to us and are killed with its run
    bundles: dict[str, Bundle] = {}
    deny = [Path(p).resolve() for p in submissions] + [feedback_dir, out_csv]
    graded = []
    feedback_dir.mkdir(parents=True, exist_ok=True)
    for student, notebook in todo:
        problem = notebook_problem(notebook)
        if problem and lab is None and len(bundles) != 1:
            raise ValueError(f"{notebook}: {problem}; pass --lab LAB to grade it (as 0, status invalid)")
        key = lab or (next(iter(bundles)) if problem else _lab_of(notebook))
        if key not in bundles:
            bundles[key] = load_bundle(find_bundle(key, dist))
        bundle = bundles[key]
        start = time.monotonic()
        if problem:  # zero points, and a status that says why, not "ok"
            report = RunReport("invalid", None, notes=[problem], isolation="not run")
        else:
            report = run_submission(notebook, bundle, limits, deny, isolation=jail)
        g = res.score(student, notebook, bundle, report)
        graded.append(g)
        slug = student.replace("/", "__")
        (feedback_dir / f"{slug}.md").write_text(res.feedback_markdown(g))
        (feedback_dir / f"{slug}.log").write_text(report.log_tail)
        if results_json:
            (feedback_dir / f"{slug}.results.json").write_text(json.dumps(res.gradescope_results(g), indent=1))
        log(
            f"[genlab grade] {student}: {g.total:.4g}/{g.possible:.4g} ({report.status}) "
            f"in {time.monotonic() - start:.1f} s" + (f"; {report.notes[0][:120]}" if report.status != "ok" and report.notes else "")
        )
    res.write_csv(out_csv, graded)
    log(f"[genlab grade] {len(graded)} submissions -> {out_csv} (feedback in {feedback_dir})")
    return graded
