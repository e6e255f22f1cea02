"""``genlab assign`` end to end: private tests, failing solutions, the setup cell, the CLI."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from grading_helpers import FIXTURE_LAB, PRIVATE_TESTS, SUBMISSIONS, write_notebook

from genlab.cli import main
from genlab.grading.assign import build_lab
from genlab.grading.sandbox import Limits

pytestmark = pytest.mark.slow
LIMITS = Limits(timeout_s=120, memory_mb=2000)


@pytest.fixture(scope="module", autouse=True)
def tiny():
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GENLAB_PRESET", "tiny")  # the fixture submissions train STEPS = 50, the tiny preset's
        yield


@pytest.fixture(scope="module")
def with_private(tmp_path_factory):
    out = tmp_path_factory.mktemp("dist")
    return build_lab(FIXTURE_LAB, out, private_dir=PRIVATE_TESTS, limits=LIMITS, log=lambda *a: None)


def test_private_tests_join_the_bundle_as_hidden_tests_only(with_private):
    lab = with_private
    assert lab.private_tests == 1
    from otter.test_files.exception_test import ExceptionTestFile

    q1 = ExceptionTestFile.from_file(str(lab.autograder / "tests" / "q1.py"))
    hidden = {tc.body.test_func.__name__: tc.hidden for tc in q1.test_cases}
    assert hidden == {"test_q1_shape": False, "test_q1_values": True, "test_q1_private_symmetric": True}
    student = "\n".join(p.read_text() for p in lab.student.parent.rglob("*") if p.is_file())
    assert "private" not in student
    assert lab.solutions.total == lab.solutions.possible == 8  # the private test passes on the solutions


def test_otter_zip_carries_the_private_tests(with_private):
    import zipfile

    [zip_path] = with_private.autograder.glob("*-autograder_*.zip")
    with zipfile.ZipFile(zip_path) as z:
        assert "test_q1_private_symmetric" in z.read("tests/q1.py").decode()


def test_assign_fails_when_solutions_miss_full_marks(tmp_path, capsys):
    private = tmp_path / "private"
    private.mkdir()
    (private / "q2_private.py").write_text("def test_q2_impossible(q2_samples):\n    assert q2_samples is None\n")
    rc = main(["assign", str(FIXTURE_LAB), "--out", str(tmp_path / "dist"), "--private-tests", str(private),
               "--no-wheel"])
    err = capsys.readouterr().err
    assert rc == 1
    assert "not full marks" in err and "q2" in err


def test_assign_blames_a_time_limit_on_the_time_limit(tmp_path, capsys):
    """A limit too short for the solutions is reported as a time limit, with the flags that change it."""
    rc = main(["assign", str(FIXTURE_LAB), "--out", str(tmp_path / "dist"), "--no-wheel", "--timeout", "0.5"])
    err = capsys.readouterr().err
    assert rc == 1
    assert "time limit (0.5 s" in err and "not the solutions" in err, err
    for flag in ("--timeout SECONDS", "GENLAB_PRESET=tiny", "--no-check"):
        assert flag in err, flag
    assert "fix the master's solutions" not in err


def test_assign_without_check_is_quick_and_sound(tmp_path):
    """What `make lab` runs: the student notebook and the bundle, without grading the solutions."""
    rc = main(["assign", str(FIXTURE_LAB), "--out", str(tmp_path / "dist"), "--no-wheel", "--no-check"])
    assert rc == 0
    assert (tmp_path / "dist" / "fixture_lab" / "student" / "fixture_lab.ipynb").is_file()
    assert (tmp_path / "dist" / "fixture_lab" / "autograder" / "genlab_bundle.json").is_file()


def test_the_student_folder_installs_genlab_into_a_bare_environment(tmp_path):
    """Colab, or any machine without the repository: the setup cell installs genlab from the wheel that
    `genlab assign` put beside the notebook. No repository URL anywhere."""
    import sysconfig

    from genlab.grading.install import build_wheel

    wheel = build_wheel(tmp_path / "wheel")
    lab = build_lab(FIXTURE_LAB, tmp_path / "dist", check=False, wheel=wheel, log=lambda *a: None)
    student = lab.student.parent
    assert (student / wheel.name).is_file()
    setup = "".join(json.loads(lab.student.read_text())["cells"][0]["source"])
    assert "git+" not in setup and "http" not in setup
    # a bare environment: no genlab; the packages genlab needs are visible (no network here to fetch them)
    venv = tmp_path / "bare"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          check=True, capture_output=True, text=True).stdout.strip()
    (Path(site) / "genlab_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "JAX_PLATFORMS": "cpu"}
    probe = "import importlib.util; print(importlib.util.find_spec('genlab'))"
    bare = subprocess.run([str(python), "-c", probe], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert bare.stdout.strip() == "None", "the bare environment must not see genlab (run outside the checkout)"
    work = tmp_path / "colab"
    shutil.copytree(student, work)
    code = setup + ("\nimport genlab, genlab.shipped as s\nprint(genlab.__file__)\n"
                    "print(s.shipped('fashion_mnist_subset.npz').is_file(), type(grader).__name__)")
    out = subprocess.run([str(python), "-c", code], cwd=work, env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-3000:]
    where, found = out.stdout.strip().splitlines()[-2:]
    assert where.startswith(site), where
    assert found == "True Notebook"
    (work / wheel.name).unlink()
    bare_again = tmp_path / "bare2"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(bare_again)], check=True)
    out = subprocess.run([str(bare_again / "bin" / "python"), "-c", setup], cwd=work, env=env, capture_output=True,
                         text=True)
    assert out.returncode != 0 and "upload the wheel" in out.stderr


def test_setup_cell_is_harmless_offline_and_writes_public_tests(with_private, tmp_path):
    nb = json.loads(with_private.student.read_text())
    setup = "".join(nb["cells"][0]["source"])
    assert "genlab_setup" in nb["cells"][0]["metadata"]["tags"]
    env = {"PATH": "/nonexistent", "HOME": str(tmp_path), "no_proxy": "*", "https_proxy": "http://127.0.0.1:9"}
    env.update({k: v for k, v in os.environ.items() if k == "PYTHONPATH"})  # the genlab under test (a worktree)
    code = setup + "\nimport numpy as np\nq2_samples = np.zeros(1000)\nprint(grader.check('q2').passed_all)"
    code += "\nprint(type(grader).__name__)"
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split()[-2:] == ["True", "Notebook"]  # the public Q2 test passes; no hidden test runs
    assert sorted(p.name for p in (tmp_path / "tests").iterdir()) == ["q1.py", "q2.py", "q3.py", "q4.py"]
    assert "hidden=True" not in (tmp_path / "tests" / "q1.py").read_text()


def test_grade_cli_finds_the_lab_from_the_notebook(with_private, tmp_path):
    notebook = write_notebook(SUBMISSIONS / "full.py", tmp_path / "alice.ipynb")
    dist = with_private.autograder.parent.parent
    out = tmp_path / "grades.csv"
    rc = main(["grade", str(notebook), "--out", str(out), "--dist", str(dist), "--timeout", "120", "--memory", "2000"])
    assert rc == 0
    [row] = list(csv.DictReader(out.open()))
    assert row["student"] == "alice" and row["total"] == "8" and row["lab"] == "fixture_lab"
    assert (tmp_path / "grades_feedback" / "alice.md").is_file()
