"""Points from a run report (otter's own scoring), CSV rows, feedback, Gradescope ``results.json``."""

from __future__ import annotations

import csv
import dataclasses
from pathlib import Path

from genlab.grading.bundle import Bundle
from genlab.grading.sandbox import RunReport


@dataclasses.dataclass
class Graded:
    student: str
    source: Path
    bundle: Bundle
    report: RunReport
    results: object  # otter.test_files.GradingResults

    @property
    def points(self) -> dict[str, float]:
        return {q: float(self.results.get_score(q)) for q in self.bundle.questions}

    @property
    def total(self) -> float:
        return float(self.results.total)

    @property
    def possible(self) -> float:
        return float(self.results.possible)


def score(student: str, source: Path, bundle: Bundle, report: RunReport) -> Graded:
    """Score a report with otter's test-file classes; points come from the bundle, not the child."""
    from otter.test_files import GradingResults
    from otter.test_files.abstract_test import TestCaseResult

    files = bundle.test_files()
    for q, tf in files.items():
        outcomes = (report.cases or {}).get(q)
        if outcomes is None:
            reason = "; ".join(report.notes) or "no result"
            outcomes = [{"passed": False, "message": f"not graded: {reason}"}] * len(tf.test_cases)
        tf.test_case_results = [
            TestCaseResult(test_case=tc, message=str(o.get("message", "")), passed=bool(o["passed"]))
            for tc, o in zip(tf.test_cases, outcomes)
        ]
    return Graded(student, Path(source), bundle, report, GradingResults(list(files.values())))


def _fmt(x: float) -> str:
    return f"{x:.4g}"


def write_csv(path: Path, graded: list[Graded]) -> None:
    """One row per submission: student, lab, points per question, total, possible, status, notes, and the
    isolation mechanisms its run had."""
    questions: list[str] = []
    for g in graded:
        questions += [q for q in g.bundle.questions if q not in questions]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["student", "lab", *questions, "total", "possible", "status", "notes", "isolation"])
        for g in graded:
            pts = g.points
            row = [g.student, g.bundle.lab, *(_fmt(pts[q]) if q in pts else "" for q in questions)]
            notes = g.report.notes + [f"error in {e}" for e in g.report.cell_errors]
            writer.writerow([*row, _fmt(g.total), _fmt(g.possible), g.report.status, " | ".join(notes)[:500],
                             g.report.isolation])


def one_sentence(message: str) -> str:
    """What a failing test says, without its code: the exception's own message from otter's report.

    ``"Error at line 12 in test q1:\n  assert ...\nAssertionError: at logits 0 the loss is log 2"`` ->
    ``"at logits 0 the loss is log 2"``; other exceptions keep their name (``"TypeError: ..."``).
    """
    lines = message.strip().splitlines()
    if lines and lines[0].startswith("Error at line"):
        lines = lines[1:]
        while lines and lines[0].startswith("  "):  # the test's code line(s)
            lines = lines[1:]
    text = " ".join(ln.strip() for ln in lines if ln.strip())
    if text.startswith("AssertionError:"):
        text = text.removeprefix("AssertionError:").strip()
    if not text:
        return "the test's check failed (it gives no reason)"
    return text if len(text) <= 400 else text[:400] + " ..."


def feedback_markdown(g: Graded) -> str:
    """What the student sees: points, what went wrong, one sentence per failing test (hidden ones too, without
    their code), and the failing line of public tests."""
    lines = [
        f"# {g.bundle.lab}: feedback for {g.student}",
        "",
        f"**Total: {_fmt(g.total)} / {_fmt(g.possible)}** (status: {g.report.status})",
        "",
        "| question | points | possible |",
        "|---|---|---|",
    ]
    for q in g.bundle.questions:
        tf = g.results.get_result(q)
        lines.append(f"| {q} | {_fmt(tf.score)} | {_fmt(tf.possible)} |")
    problems = (
        g.report.notes
        + [f"error in {e}" for e in g.report.cell_errors]
        + [f"refused by the grader: {r}" for r in dict.fromkeys(g.report.refusals)]
    )
    if problems:
        lines += ["", "## What happened while grading", ""] + [f"- {p}" for p in problems]
    if g.report.restored:
        changed = ", ".join(g.report.restored[:10])
        lines += ["", f"Restored before the tests ran (changed by the notebook): {changed}"]
    for q in g.bundle.questions:
        lines += ["", f"## {q}", ""]
        for tcr in g.results.get_result(q).test_case_results:
            tc = tcr.test_case
            mark = "passed" if tcr.passed else "FAILED"
            kind = "hidden" if tc.hidden else "public"
            why = f": {one_sentence(tcr.message)}" if not tcr.passed else ""
            lines.append(f"- {tc.name} ({kind}, {_fmt(tc.points)} pt): {mark}{why}")
            if not tcr.passed and not tc.hidden and tcr.message:
                lines += ["", "  ```", *("  " + ln for ln in tcr.message.strip().splitlines()), "  ```"]
    return "\n".join(lines) + "\n"


def gradescope_results(g: Graded) -> dict:
    """Gradescope's ``results.json`` (otter's own conversion, hidden tests hidden)."""
    from otter.run import AutograderConfig

    out = g.results.to_gradescope_dict(AutograderConfig())
    out["score"] = g.total
    notes = g.report.notes + [f"error in {e}" for e in g.report.cell_errors]
    if notes:
        out["output"] = "\n".join(notes)
    return out
