"""``genlab assign``: a lab master -> student notebook + autograder bundle.

Steps: jupytext reads the percent-format master; the assignment config gets the settings
genlab relies on; otter assign writes ``student/`` and ``autograder/``; a setup cell goes on top
of both notebooks; private tests join the autograder tests; a manifest makes the bundle; then
the solution notebook is graded through the real grading path (:mod:`genlab.grading.sandbox`)
and must score full marks, and the student folder must not leak hidden tests or solutions.
"""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
import tempfile
import zipfile
from pathlib import Path

from genlab.grading import labs
from genlab.grading.bundle import MANIFEST, load_bundle
from genlab.grading.private import merge_private, private_files
from genlab.grading.sandbox import Limits, run_submission
from genlab.grading.student import SETUP_TAG, setup_cell_source

# Settings genlab needs; a master sets only ``name``, ``seed`` (and ``files``).
ENFORCED = {
    "tests": {"files": True, "ok_format": False},
    "init_cell": False,  # genlab's setup cell creates `grader`
    "export_cell": False,
    "check_all_cell": False,
    "run_tests": False,  # genlab grades the solutions itself, through its own grading path
    "solutions_pdf": False,
    "template_pdf": False,
}


# Where a lab's tests run: "trusted" (the grader's process, plain data from the student's; labs/README.md)
# or "in-process" (otter in the student's process: the old format, for labs not moved yet).
VERDICTS = ("trusted", "in-process")


class AssignError(RuntimeError):
    """A master that cannot become a lab (bad format, failing solutions, leaks)."""


@dataclasses.dataclass(frozen=True)
class BuiltLab:
    lab: str
    student: Path  # the student notebook
    autograder: Path  # the bundle folder
    points: dict[str, float]
    private_tests: int
    solutions: object = None  # results.Graded of the solution notebook (None with check=False)


def master_notebook(master: Path):
    """The master as an nbformat notebook, with the enforced config; raises AssignError."""
    import jupytext
    import yaml

    text = master.read_text(encoding="utf-8")
    if not labs.term_table(text):
        raise AssignError(
            f"{master}: no term table before the first question: open the lab with a Markdown table "
            f"whose first column names lecture terms ({', '.join(labs.LECTURE_TERMS)}); see labs/README.md"
        )
    nb = jupytext.reads(text, fmt="py:percent")
    nb.metadata.setdefault("kernelspec", {"display_name": "Python 3", "language": "python", "name": "python3"})
    configs = [c for c in nb.cells if c.cell_type == "raw" and re.match(r"#\s+assignment\s+config", c.source, re.I)]
    if len(configs) != 1:
        raise AssignError(f"{master}: needs exactly one '# ASSIGNMENT CONFIG' raw cell, found {len(configs)}")
    config = yaml.safe_load(configs[0].source.partition("\n")[2]) or {}
    if config.setdefault("name", master.stem) != master.stem:
        raise AssignError(f"{master}: config name {config['name']!r} must equal the file name {master.stem!r}")
    verdicts = config.pop("verdicts", "trusted")
    if verdicts not in VERDICTS:
        raise AssignError(f"{master}: verdicts must be one of {', '.join(VERDICTS)}, not {verdicts!r}")
    config.update(ENFORCED)
    configs[0].source = "# ASSIGNMENT CONFIG\n" + yaml.safe_dump(config, sort_keys=False)
    _check_test_names(nb, master)
    config["verdicts"] = verdicts  # genlab's own key: kept out of otter's config cell
    return nb, config


def _check_test_names(nb, master: Path) -> None:
    """Otter keeps one test per function name: a repeated name would silently drop a test."""
    question, in_tests, seen = None, False, set()
    for cell in nb.cells:
        head = cell.source.lstrip().lower()
        if cell.cell_type == "raw":
            if re.match(r"#\s+begin\s+question", head):
                m = re.search(r"^name:\s*(\S+)", cell.source, re.M)
                question, seen = (m.group(1) if m else "?"), set()
            if re.match(r"#\s+begin\s+tests", head):
                in_tests = True
            elif re.match(r"#\s+end\s+tests", head):
                in_tests = False
        elif in_tests and cell.cell_type == "code":
            for name in re.findall(r"^def\s+(\w+)\s*\(", cell.source, re.M):
                if name in seen:
                    raise AssignError(f"{master}: question {question} has two tests named {name}; rename one")
                seen.add(name)


def _question_order(nb) -> list[str]:
    import yaml

    names = []
    for cell in nb.cells:
        if cell.cell_type == "raw" and re.match(r"#\s+begin\s+question", cell.source.lstrip(), re.I):
            names.append(str((yaml.safe_load(cell.source.split("\n", 1)[-1]) or {}).get("name")))
    return names


def _solution_lines(nb) -> set[str]:
    """Code lines the master marks as solutions (long enough to be telling)."""
    found, plain = set(), set()
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        inside = False
        for line in cell.source.splitlines():
            s = line.strip()
            if s.endswith("# END SOLUTION"):
                inside = False
            elif s.startswith("# BEGIN SOLUTION"):
                inside = True
            elif inside or re.search(r"#\s?SOLUTION$", s):
                found.add(re.sub(r"\s*#\s?SOLUTION$", "", s))
            else:
                plain.add(s)
    return {s for s in found - plain if len(s) >= 12}


def leaks(lab_dir: Path, master_nb) -> list[str]:
    """Hidden tests or solution lines that made it into ``lab_dir/student``."""
    from otter.test_files.exception_test import ExceptionTestFile

    student = Path(lab_dir) / "student"
    texts = {p: p.read_text(errors="replace") for p in student.rglob("*") if p.is_file() and p.suffix != ".whl"}
    nb_path = next(student.glob("*.ipynb"))
    code = "\n".join(
        "".join(c["source"]) for c in json.loads(texts[nb_path])["cells"] if c["cell_type"] == "code"
    )
    found = []
    for test_path in sorted((Path(lab_dir) / "autograder" / "tests").glob("*.py")):
        source = test_path.read_text()
        for tc in ExceptionTestFile.from_string(source, path=str(test_path)).test_cases:
            if tc.hidden:
                name = tc.body.test_func.__name__
                found += [f"hidden test {name} in {p.name}" for p, t in texts.items() if f"def {name}(" in t]
    found += [f"solution line {s!r} in {nb_path.name}" for s in _solution_lines(master_nb) if s in code]
    for p in (student / "tests").glob("*.py"):
        if any(tc.hidden for tc in ExceptionTestFile.from_string(p.read_text(), path=str(p)).test_cases):
            found.append(f"hidden test case in {p}")
    return found


def _add_setup_cell(notebook: Path, public_tests: dict[str, str]) -> None:
    import nbformat

    nb = nbformat.read(notebook, as_version=4)
    cell = nbformat.v4.new_code_cell(setup_cell_source(public_tests))
    cell.metadata.update(tags=[SETUP_TAG], editable=False, deletable=False)
    nb.cells.insert(0, cell)
    nbformat.write(nb, notebook)


def _merge_private_tests(bundle_dir: Path, lab: str, private_dir: Path | None, several: bool) -> int:
    if private_dir is None:
        return 0
    added = 0
    tests_dir = bundle_dir / "tests"
    for question, path in private_files(private_dir, lab, several).items():
        target = tests_dir / f"{question}.py"
        if not target.is_file():
            known = ", ".join(p.stem for p in sorted(tests_dir.glob("*.py")))
            raise AssignError(f"{path}: lab {lab} has no question {question!r} (questions: {known})")
        merged, n = merge_private(target.read_text(), path)
        target.write_text(merged)
        added += n
    for zip_path in bundle_dir.glob("*-autograder_*.zip"):  # keep otter's own zip in step
        entries = {}
        with zipfile.ZipFile(zip_path) as z:
            entries = {i: z.read(i) for i in z.infolist()}
        with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_DEFLATED) as z:
            for info, data in entries.items():
                if info.filename.startswith("tests/") and (tests_dir / info.filename[6:]).is_file():
                    data = (tests_dir / info.filename[6:]).read_bytes()
                z.writestr(info, data)
    return added


def build_lab(
    master: Path,
    out_root: Path,
    *,
    private_dir: Path | None = None,
    several_labs: bool = False,
    limits: Limits = Limits(),
    check: bool = True,
    wheel: Path | None = None,
    log=print,
) -> BuiltLab:
    """Build ``out_root/<lab>/{student,autograder}``; raise AssignError when it is not sound.

    wheel: genlab's wheel (:func:`genlab.grading.install.build_wheel`), copied into the student folder so that
    the notebook's setup cell can install genlab where the repository is not (Colab).
    """
    import nbformat
    from otter.assign import main as otter_assign

    master = Path(master).resolve()
    lab = master.stem
    nb, config = master_notebook(master)
    lab_dir = Path(out_root).resolve() / lab
    with tempfile.TemporaryDirectory(prefix="genlab-assign-") as tmp:
        for rel in config.get("files", []) or []:  # data files the lab lists, next to the master
            src, dst = master.parent / rel, Path(tmp) / rel
            dst.parent.mkdir(parents=True, exist_ok=True)
            (shutil.copytree if src.is_dir() else shutil.copyfile)(src, dst)
        converted = Path(tmp) / f"{lab}.ipynb"
        nbformat.write(nb, converted)
        try:
            otter_assign(str(converted), str(lab_dir), no_pdfs=True, no_run_tests=True)
        except Exception as exc:
            raise AssignError(f"{master}: otter assign failed: {exc}") from exc
    student_dir, bundle_dir = lab_dir / "student", lab_dir / "autograder"
    if wheel is not None:
        shutil.copyfile(wheel, student_dir / Path(wheel).name)
    public = {p.name: p.read_text() for p in sorted((student_dir / "tests").glob("*.py"))}
    _add_setup_cell(student_dir / f"{lab}.ipynb", public)
    _add_setup_cell(bundle_dir / f"{lab}.ipynb", public)
    added = _merge_private_tests(bundle_dir, lab, private_dir, several_labs)
    otter_config = json.loads((bundle_dir / "otter_config.json").read_text())
    questions = [q for q in _question_order(nb) if (bundle_dir / "tests" / f"{q}.py").is_file()]
    manifest = {
        "lab": lab,
        "notebook": f"{lab}.ipynb",
        "seed_variable": otter_config.get("seed_variable"),
        "seed": otter_config.get("seed"),
        "questions": questions,
        "private_tests": added,
        "verdicts": config["verdicts"],
    }
    (bundle_dir / MANIFEST).write_text(json.dumps(manifest, indent=1))
    bundle = load_bundle(bundle_dir)
    found = leaks(lab_dir, nb)
    if found:
        raise AssignError(f"{lab}: the student folder leaks: " + "; ".join(found))
    points = bundle.possible()
    solutions = check_solutions(bundle, limits, log) if check else None
    log(f"[genlab assign] {lab}: {len(questions)} questions, {sum(points.values()):g} points, "
        f"{added} private tests -> {lab_dir}")  # fmt: skip
    return BuiltLab(lab, student_dir / f"{lab}.ipynb", bundle_dir, points, added, solutions)


def _preset_name() -> str:
    """The preset the solutions run at: $GENLAB_PRESET, else what the hardware picks (as the notebook does)."""
    import os

    try:
        from genlab.presets import resolve_preset

        return resolve_preset(os.environ.get("GENLAB_PRESET"))
    except Exception:  # noqa: BLE001 - only for a message: a bad value is the notebook's error to report
        return os.environ.get("GENLAB_PRESET") or "auto"


def check_solutions(bundle, limits: Limits, log=print):
    """Grade the solution notebook through the real grading path; full marks or AssignError."""
    from genlab.grading.results import score

    preset = _preset_name()
    log(f"[genlab assign] {bundle.lab}: grading the solutions at preset {preset} (time limit {limits.timeout_s:g} s; "
        "instructors and CI check this, `genlab assign --no-check` skips it) ...")
    report = run_submission(bundle.solution_notebook, bundle, limits)
    graded = score("solutions", bundle.solution_notebook, bundle, report)
    log(f"[genlab assign] {bundle.lab}: solutions score {graded.total:g}/{graded.possible:g} in {report.wall_s:.1f} s")
    # the limit may strike while the notebook runs (a note) or while the tests call into it (their messages)
    test_messages = [tcr.message or "" for q in bundle.questions
                     for tcr in graded.results.get_result(q).test_case_results if not tcr.passed]
    timed_out = report.status == "timeout" or any("time limit" in n for n in report.notes + test_messages)
    if graded.total < graded.possible and timed_out:
        raise AssignError(
            f"{bundle.lab}: grading the solutions ran into the time limit ({limits.timeout_s:g} s, of which the cells "
            f"get 75 %) at preset {preset}, so they score {graded.total:g}/{graded.possible:g}: the limit, not the "
            "solutions, is the problem. Give it more time with --timeout SECONDS, check at a smaller preset with "
            "GENLAB_PRESET=tiny (as CI does), or skip the check with --no-check (what `make lab` does). Details:\n  "
            + "\n  ".join(report.notes)
        )
    if graded.total < graded.possible:
        failed = [
            f"{q}: {tcr.test_case.name}: {tcr.message.strip().splitlines()[-1] if tcr.message.strip() else ''}"
            for q in bundle.questions
            for tcr in graded.results.get_result(q).test_case_results
            if not tcr.passed
        ]
        details = failed + [f"error in {e}" for e in report.cell_errors] + report.notes
        raise AssignError(
            f"{bundle.lab}: the solutions score {graded.total:g}/{graded.possible:g}, not full marks; "
            "fix the master's solutions or tests:\n  " + "\n  ".join(details)
        )
    return graded
