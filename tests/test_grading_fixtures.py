"""``genlab assign`` + ``genlab grade`` on the fixture lab and a folder of fixture submissions.

Each file in tests/fixtures/submissions/ states on its first line the points it really earns;
honest, broken and adversarial submissions alike (forged results from stack frames and the pipe
protocol, dir_fd path tricks, processes that outlive their run, patched private numpy modules, answers
that lie about equality, rebound settings) must be graded exactly so, in one batch; nothing outside the
grading folders changes and no process survives the batch.
"""

from __future__ import annotations

import compileall
import csv
import hashlib
import json
import os
import shutil

import time
from pathlib import Path

import pytest
from grading_helpers import FIXTURE_LAB, SUBMISSIONS, expectation, write_notebook

import genlab
from genlab.grading import isolation
from genlab.grading.assign import build_lab
from genlab.grading.grade import grade_batch
from genlab.grading.sandbox import Limits, _matplotlib_cache

pytestmark = pytest.mark.slow
GENLAB = Path(genlab.__file__).resolve().parent

BATCH = sorted(p.stem for p in SUBMISSIONS.glob("*.py") if p.stem != "hang")
LIMITS = Limits(timeout_s=120, memory_mb=2000)


def _digest(folder):
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _survivors() -> list[str]:
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if b"genlab-survivor-marker" in cmdline.read_bytes():
                found.append(cmdline.parent.name)
        except OSError:
            pass
    return found


@pytest.fixture(scope="module", autouse=True)
def tiny():
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GENLAB_PRESET", "tiny")  # the fixture submissions train STEPS = 50, the tiny preset's
        yield


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    return build_lab(FIXTURE_LAB, tmp_path_factory.mktemp("dist"), limits=LIMITS, log=lambda *a: None)


@pytest.fixture(scope="module")
def batch(lab, tmp_path_factory):
    jail = isolation.probe(_matplotlib_cache())
    if not jail.full:  # without OS isolation the path tricks and survivors would really change files here
        pytest.skip(f"the adversarial batch needs full isolation; this machine lacks {jail.missing}")
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
    out.mkdir()
    (out / "grades.csv").write_text("the previous batch's grades\n")
    # every module byte-compiled first: another test worker importing a module for the first time during the
    # batch must not look like a file planted in genlab/ (a .pyc the batch writes still does)
    compileall.compile_dir(GENLAB, quiet=1)
    before = {"victim": _digest(victim), "bundle": _digest(lab.autograder), "genlab": _digest(GENLAB)}
    env = {"GENLAB_TEST_VICTIM": str(victim), "GENLAB_TEST_BUNDLE": str(lab.autograder), "GENLAB_TEST_OUT": str(out)}
    with pytest.MonkeyPatch.context() as mp:
        for key, value in env.items():
            mp.setenv(key, value)
        lines = []
        graded = grade_batch([subs], out / "grades.csv", dist=lab.autograder.parent.parent, limits=LIMITS,
                             results_json=True, log=lines.append)  # fmt: skip
    survivors = _survivors()
    grades = (out / "grades.csv").read_text()
    time.sleep(8)  # the survivor's child would rewrite the grades 6 s after its run
    return {
        "lines": lines,
        "survivors": survivors,
        "grades": grades,
        "graded": {g.student: g for g in graded},
        "out": out,
        "victim": victim,
        "before": before,
        "after": {"victim": _digest(victim), "bundle": _digest(lab.autograder), "genlab": _digest(GENLAB)},
    }


@pytest.mark.parametrize("name", BATCH)
def test_submission_is_graded_as_what_it_answers(batch, name):
    want = expectation(SUBMISSIONS / f"{name}.py")
    g = batch["graded"][name]
    assert g.points == pytest.approx(want["points"]), (g.report.notes, g.report.cell_errors)
    assert g.report.status == want["status"], g.report.notes


def test_untouched_student_notebook_scores_zero(batch):
    g = batch["graded"]["blank"]
    assert g.total == 0 and g.possible == 8


def test_files_outside_the_submission_folder_survive(batch):
    assert batch["after"] == batch["before"]  # victim folder, bundle, genlab's own code
    assert not (GENLAB / "grading" / "_planted_by_fixture.py").exists()
    g = batch["graded"]["deletes"]
    assert any("changing" in r for r in g.report.refusals)


def test_no_process_outlives_its_run_and_the_grades_stay(batch):
    assert batch["survivors"] == [] and _survivors() == []
    assert (batch["out"] / "grades.csv").read_text() == batch["grades"]
    assert "survivor,999" not in batch["grades"]
    assert not (batch["victim"] / "survivor.txt").exists()


def test_isolation_is_recorded_per_submission_and_printed(batch):
    assert any("isolation of every submission" in line and "pid ns" in line for line in batch["lines"])
    with (batch["out"] / "grades.csv").open() as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        for mechanism in ("mount ns", "pid ns", "net ns", "user nobody"):
            assert mechanism in row["isolation"], row
        assert "NO " not in row["isolation"]


def test_forged_messages_are_recorded_and_count_for_nothing(batch):
    for name in ("frame_forge", "protocol_player", "pipe_forge"):
        notes = " ".join(batch["graded"][name].report.notes)
        assert "protocol breach" in notes, (name, notes)


def test_every_log_holds_all_of_its_output(batch):
    feedback = batch["out"] / "grades_feedback"
    assert "senders found:" in (feedback / "frame_forge.log").read_text()
    assert "system() returned" in (feedback / "survivor.log").read_text()
    assert "not written:" in (feedback / "dir_fd.log").read_text()


def test_hidden_tests_cannot_be_read(batch):
    refusals = batch["graded"]["read_hidden"].report.refusals
    assert any(r.startswith("reading ") for r in refusals)
    assert "gc.get_objects" in refusals


def test_crash_and_process_death_are_explained(batch):
    crash = batch["graded"]["crash"].report
    assert any("RuntimeError" in e for e in crash.cell_errors)
    exits = batch["graded"]["exits"].report
    assert any("ended the grading process" in n for n in exits.notes)


def test_csv_has_one_row_per_student(batch):
    with (batch["out"] / "grades.csv").open() as f:
        rows = {r["student"]: r for r in csv.DictReader(f)}
    assert set(rows) == set(BATCH) | {"blank"}
    assert rows["full"]["total"] == "8" and rows["full"]["q3"] == "3"
    assert rows["results_file"]["total"] == "0"
    assert rows["pipe_forge"]["status"] == "tampering"


def test_feedback_and_gradescope_results(batch):
    feedback = batch["out"] / "grades_feedback"
    text = (feedback / "partial.md").read_text()
    assert "**Total: 5 / 8**" in text
    assert "def test_q2_moments" not in text  # hidden tests show pass/fail only
    results = json.loads((feedback / "partial.results.json").read_text())
    assert results["score"] == 5
    assert {t["name"] for t in results["tests"]} >= {"q1", "q2", "q3", "q4"}


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
    for hidden in ("test_q1_values", "test_q2_moments", "test_q3_fit", "test_q3_steps", "test_q4_cases"):
        assert hidden in (lab.autograder / "tests" / f"q{hidden[6]}.py").read_text()
        assert hidden not in text
    assert "jnp.log(sigma) - 0.5" not in text  # the Q1 solution
    assert sorted(os.listdir(student / "tests")) == ["q1.py", "q2.py", "q3.py", "q4.py"]


def test_a_notebook_that_is_not_json_scores_zero_with_status_invalid(lab, tmp_path):
    bad = tmp_path / "bob.ipynb"
    bad.write_text("def q1():\n    return 1\n")  # a script saved under .ipynb
    [g] = grade_batch([bad], tmp_path / "grades.csv", lab=str(lab.autograder), log=lambda *a: None)
    assert g.total == 0 and g.report.status == "invalid"
    assert "not a Jupyter notebook (not valid JSON" in g.report.notes[0]
    feedback = (tmp_path / "grades_feedback" / "bob.md").read_text()
    assert "status: invalid" in feedback and "hand in the .ipynb file" in feedback
