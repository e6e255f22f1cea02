"""``genlab assign`` + ``genlab grade`` on the fixture lab and a folder of fixture submissions.

Each file in tests/fixtures/submissions/ states on its first line the points it really earns;
honest, broken and tampering submissions alike must be graded exactly so, in one batch.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import shutil

import pytest
from grading_helpers import FIXTURE_LAB, SUBMISSIONS, expectation, write_notebook

from genlab.grading.assign import build_lab
from genlab.grading.grade import grade_batch
from genlab.grading.sandbox import Limits

pytestmark = pytest.mark.slow

BATCH = sorted(p.stem for p in SUBMISSIONS.glob("*.py") if p.stem != "hang")
LIMITS = Limits(timeout_s=120, memory_mb=2000)


def _digest(folder):
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    return build_lab(FIXTURE_LAB, tmp_path_factory.mktemp("dist"), limits=LIMITS, log=lambda *a: None)


@pytest.fixture(scope="module")
def batch(lab, tmp_path_factory):
    root = tmp_path_factory.mktemp("batch")
    subs, out, victim = root / "submissions", root / "out", root / "victim"
    subs.mkdir()
    for name in BATCH:
        write_notebook(SUBMISSIONS / f"{name}.py", subs / f"{name}.ipynb")
    shutil.copyfile(lab.student, subs / "blank.ipynb")
    victim.mkdir()
    (victim / "keep.txt").write_text("precious")
    (victim / "sub").mkdir()
    (victim / "sub" / "data.csv").write_text("1,2,3")
    before = {"victim": _digest(victim), "bundle": _digest(lab.autograder)}
    env = {"GENLAB_TEST_VICTIM": str(victim), "GENLAB_TEST_BUNDLE": str(lab.autograder), "GENLAB_TEST_OUT": str(out)}
    with pytest.MonkeyPatch.context() as mp:
        for key, value in env.items():
            mp.setenv(key, value)
        graded = grade_batch([subs], out / "grades.csv", dist=lab.autograder.parent.parent, limits=LIMITS,
                             results_json=True, log=lambda *a: None)  # fmt: skip
    return {
        "graded": {g.student: g for g in graded},
        "out": out,
        "victim": victim,
        "before": before,
        "after": {"victim": _digest(victim), "bundle": _digest(lab.autograder)},
    }


@pytest.mark.parametrize("name", BATCH)
def test_submission_is_graded_as_what_it_answers(batch, name):
    want = expectation(SUBMISSIONS / f"{name}.py")
    g = batch["graded"][name]
    assert g.points == pytest.approx(want["points"]), (g.report.notes, g.report.cell_errors)
    assert g.report.status == want["status"], g.report.notes


def test_untouched_student_notebook_scores_zero(batch):
    g = batch["graded"]["blank"]
    assert g.total == 0 and g.possible == 7


def test_files_outside_the_submission_folder_survive(batch):
    assert batch["after"]["victim"] == batch["before"]["victim"]
    assert batch["after"]["bundle"] == batch["before"]["bundle"]
    g = batch["graded"]["deletes"]
    assert any("changing" in r for r in g.report.refusals)


def test_hidden_tests_cannot_be_read(batch):
    refusals = batch["graded"]["read_hidden"].report.refusals
    assert any(r.startswith("reading ") for r in refusals)
    assert "gc.get_objects" in refusals


def test_monkeypatches_are_reported_and_undone(batch):
    restored = batch["graded"]["tamper_numpy"].report.restored
    for name in ("numpy.testing.assert_allclose", "builtins.abs", "sys.modules['numpy']"):
        assert any(name in r for r in restored), restored


def test_crash_and_process_death_are_explained(batch):
    crash = batch["graded"]["crash"].report
    assert any("RuntimeError" in e for e in crash.cell_errors)
    exits = batch["graded"]["exits"].report
    assert any("ended the grading process" in n for n in exits.notes)


def test_csv_has_one_row_per_student(batch):
    with (batch["out"] / "grades.csv").open() as f:
        rows = {r["student"]: r for r in csv.DictReader(f)}
    assert set(rows) == set(BATCH) | {"blank"}
    assert rows["full"]["total"] == "7" and rows["full"]["q3"] == "3"
    assert rows["results_file"]["total"] == "0"
    assert rows["pipe_forge"]["status"] == "tampering"


def test_feedback_and_gradescope_results(batch):
    feedback = batch["out"] / "grades_feedback"
    text = (feedback / "partial.md").read_text()
    assert "**Total: 4.5 / 7**" in text
    assert "def test_q2_moments" not in text  # hidden tests show pass/fail only
    results = json.loads((feedback / "partial.results.json").read_text())
    assert results["score"] == 4.5
    assert {t["name"] for t in results["tests"]} >= {"q1", "q2", "q3"}


def test_hanging_submission_times_out_and_keeps_earlier_points(lab, tmp_path):
    notebook = write_notebook(SUBMISSIONS / "hang.py", tmp_path / "hang.ipynb")
    want = expectation(SUBMISSIONS / "hang.py")
    [g] = grade_batch([notebook], tmp_path / "grades.csv", lab=str(lab.autograder),
                      limits=Limits(timeout_s=12, memory_mb=2000), log=lambda *a: None)  # fmt: skip
    assert g.points == pytest.approx(want["points"]), g.report.notes
    assert g.report.status == "timeout"


def test_student_folder_has_no_solutions_or_hidden_tests(lab):
    student = lab.student.parent
    text = "\n".join(p.read_text() for p in student.rglob("*") if p.is_file())
    for hidden in ("test_q1_values", "test_q2_moments", "test_q3_fit"):
        assert hidden in (lab.autograder / "tests" / f"q{hidden[6]}.py").read_text()
        assert hidden not in text
    assert "jnp.log(sigma) - 0.5" not in text  # the Q1 solution
    assert sorted(os.listdir(student / "tests")) == ["q1.py", "q2.py", "q3.py"]


def test_a_notebook_that_is_not_json_scores_zero_with_status_invalid(lab, tmp_path):
    bad = tmp_path / "bob.ipynb"
    bad.write_text("def q1():\n    return 1\n")  # a script saved under .ipynb
    [g] = grade_batch([bad], tmp_path / "grades.csv", lab=str(lab.autograder), log=lambda *a: None)
    assert g.total == 0 and g.report.status == "invalid"
    assert "not a Jupyter notebook (not valid JSON" in g.report.notes[0]
    feedback = (tmp_path / "grades_feedback" / "bob.md").read_text()
    assert "status: invalid" in feedback and "hand in the .ipynb file" in feedback
