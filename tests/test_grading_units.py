"""Fast specifications of the grading pieces (no notebook is executed here)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from types import SimpleNamespace

import numpy as np
import pytest
from grading_helpers import FIXTURE_LAB, PRIVATE_TESTS

from genlab.grading import guard, labs
from genlab.grading.assign import AssignError, master_notebook
from genlab.grading.harness import cell_code
from genlab.grading.private import merge_private
from genlab.grading.student import pack_tests, unpack_tests, write_public_tests


def test_term_table_reads_rows_before_the_first_question():
    rows = labs.term_table(FIXTURE_LAB.read_text())
    assert [t for t, _ in rows] == ["Divergenz", "Sampler"]
    late = "# %% [raw]\n# # BEGIN QUESTION\n# name: q1\n\n# | Generator | generator | §1 |\n"
    assert labs.term_table(late) == []


def test_master_without_term_table_is_refused(tmp_path):
    text = FIXTURE_LAB.read_text().replace("| Divergenz |", "| divergence |").replace("| Sampler |", "| sampler x |")
    master = tmp_path / "09_bad.py"
    master.write_text(text.replace("name: fixture_lab", "name: 09_bad"))
    with pytest.raises(AssignError, match="term table"):
        master_notebook(master)


def test_master_with_repeated_test_name_is_refused(tmp_path):
    text = FIXTURE_LAB.read_text().replace("def test_q1_values(", "def test_q1_shape(")
    master = tmp_path / "fixture_lab.py"
    master.write_text(text)
    with pytest.raises(AssignError, match="two tests named test_q1_shape"):
        master_notebook(master)


def test_master_config_gets_the_settings_genlab_needs():
    _, config = master_notebook(FIXTURE_LAB)
    assert config["tests"] == {"files": True, "ok_format": False}
    assert config["name"] == "fixture_lab" and config["seed"]["variable"] == "SEED"


def test_unknown_lab_names_the_known_ones():
    with pytest.raises(FileNotFoundError, match="no lab named 'nope'"):
        labs.resolve_master("nope")


def test_cell_code_skips_magics_checks_and_the_setup_cell():
    code = {"cell_type": "code", "metadata": {}, "source": "x = 1\n  %time y = 2\n!ls\n"}
    assert cell_code(code).splitlines()[1].startswith("  pass")
    assert cell_code({"cell_type": "code", "metadata": {}, "source": "%%bash\nrm -rf /"}) is None
    assert cell_code({"cell_type": "code", "metadata": {}, "source": 'grader.check("q1")'}) is None
    assert cell_code({"cell_type": "code", "metadata": {"tags": ["genlab_setup"]}, "source": "x = 1"}) is None
    assert cell_code({"cell_type": "markdown", "metadata": {}, "source": "x = 1"}) is None


def test_private_tests_merge_as_hidden_cases():
    from otter.test_files.exception_test import ExceptionTestFile

    public = 'from otter.test_files import test_case\nOK_FORMAT = False\nname = "q1"\npoints = 2\n\n'
    public += "@test_case(points=None, hidden=False)\ndef test_q1_private_symmetric(f):\n    assert f\n"
    merged, added = merge_private(public, PRIVATE_TESTS / "fixture_lab" / "q1_private.py")
    tf = ExceptionTestFile.from_string(merged)
    assert added == 1 and len(tf.test_cases) == 2
    assert [tc.hidden for tc in tf.test_cases] == [False, True]
    assert tf.possible == 2  # private tests share the question's points


def test_private_test_file_with_other_code_is_refused(tmp_path):
    bad = tmp_path / "q1_private.py"
    bad.write_text("X = open('/etc/passwd').read()\ndef test_x(y):\n    pass\n")
    with pytest.raises(ValueError, match="only imports and test_"):
        merge_private("name = 'q1'\n", bad)


def test_public_tests_pack_and_write(tmp_path):
    tests = {"q1.py": "name = 'q1'\n", "q2.py": "name = 'q2'\n"}
    blob = pack_tests(tests)
    assert blob.isascii() and unpack_tests(blob) == tests
    assert len(write_public_tests(blob, tmp_path / "tests")) == 2
    assert write_public_tests(blob, tmp_path / "tests") == []  # unchanged files are left alone


def test_snapshot_restores_patched_attributes():
    import builtins

    snap = guard.Snapshot()
    real_allclose, real_abs = np.allclose, builtins.abs
    try:
        np.allclose = lambda *a, **k: True
        builtins.abs = lambda x: 0
        np.some_new_name = 1
        changed = snap.restore()
    finally:
        np.allclose, builtins.abs = real_allclose, real_abs
        vars(np).pop("some_new_name", None)
    assert np.allclose is real_allclose and builtins.abs is real_abs
    assert {"numpy.allclose", "builtins.abs", "numpy.some_new_name"} <= set(changed)


def test_audit_hook_confines_files_and_processes(tmp_path):
    work, denied = tmp_path / "work", tmp_path / "bundle"
    work.mkdir()
    denied.mkdir()
    (denied / "q1.py").write_text("secret")
    script = textwrap.dedent(f"""
        import json, os, subprocess
        from genlab.grading import guard
        refusals = []
        guard.install_audit_hook({str(work)!r}, [{str(denied)!r}], refusals)
        outcome = {{}}
        def attempt(name, fn):
            try:
                fn()
                outcome[name] = "allowed"
            except (PermissionError, RuntimeError):
                outcome[name] = "refused"
        attempt("write inside", lambda: open({str(work / "a.txt")!r}, "w").write("x"))
        attempt("write outside", lambda: open({str(tmp_path / "b.txt")!r}, "w").write("x"))
        attempt("read denied", lambda: open({str(denied / "q1.py")!r}).read())
        attempt("list denied", lambda: os.listdir({str(denied)!r}))
        attempt("remove outside", lambda: os.remove({str(denied / "q1.py")!r}))
        attempt("subprocess", lambda: subprocess.run(["true"]))
        attempt("kill parent", lambda: os.kill(os.getppid(), 0))
        seen = []
        __import__("sys").addaudithook(lambda event, args: seen.append(event))  # silently not added
        open({str(work / "c.txt")!r}, "w").close()
        outcome["audit hook"] = "allowed" if seen else "refused"
        print(json.dumps(outcome))
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    outcome = json.loads(out.stdout.strip().splitlines()[-1])
    assert outcome.pop("write inside") == "allowed"
    assert set(outcome.values()) == {"refused"}, outcome
    assert len(outcome) == 7
    assert (denied / "q1.py").read_text() == "secret" and not (tmp_path / "b.txt").exists()


def _no_functions(i, name):
    raise AssertionError("no function expected")


def test_channel_round_trip_gives_exact_plain_types():
    import jax.numpy as jnp

    from genlab.grading import channel
    from genlab.train.history import History

    value = {"a": [1, 2.5, True, None, "s"], ("t", 1): (np.arange(6, dtype=np.float32).reshape(2, 3), ...),
             "scalar": np.float64(1.5), "jax": jnp.ones(3), "big": 2**70,
             "history": History(steps=[1, 2], metrics={"loss": [1.0, 0.5]})}
    wire = json.loads(json.dumps(channel.encode(value)))  # through JSON, as on the pipe
    out = channel.decode(wire, _no_functions)
    assert out["a"] == [1, 2.5, True, None, "s"] and out["big"] == 2**70 and out[("t", 1)][1] is Ellipsis
    array = out[("t", 1)][0]
    assert type(array) is np.ndarray and array.dtype == np.float32 and array.shape == (2, 3)
    assert type(out["scalar"]) is np.float64 and type(out["jax"]) is np.ndarray
    assert out["history"].steps == [1, 2] and out["history"]["metrics"] == {"loss": [1.0, 0.5]}


def test_channel_strips_lying_subclasses_and_hides_objects():
    from genlab.grading import channel

    class LiarStr(str):
        def __eq__(self, other):
            return True

        __hash__ = str.__hash__

    class LiarFloat(float):
        def __lt__(self, other):
            return True

    out = channel.decode(channel.encode([LiarStr("no"), LiarFloat(2.0), object()]), _no_functions)
    assert type(out[0]) is str and out[0] != "yes"
    assert type(out[1]) is float and not out[1] < 1.0
    assert type(out[2]) is channel.Opaque


@pytest.mark.parametrize("node, problem", [
    ({"t": "array", "dtype": "|O", "shape": [1], "data": "", "jax": False, "scalar": False}, "dtype"),
    ({"t": "array", "dtype": "<f4", "shape": [3], "data": "AAAAAA==", "jax": False, "scalar": False}, "bytes"),
    ({"t": "tuple", "v": [], "extra": 1}, "keys"),
    ({"t": "pickle", "v": "gASV"}, "unknown form"),
    ({"t": "dict", "v": [[[1], 2]]}, "dict key"),
])
def test_channel_refuses_what_is_not_plain_data(node, problem):
    from genlab.grading import channel

    with pytest.raises(channel.ChannelError, match=problem):
        channel.decode(node, _no_functions)


def test_isolation_describes_what_is_active_and_what_is_not():
    from genlab.grading.isolation import Isolation

    partial = Isolation(("mount", "pid"), {"net": "refused here: x", "user": "not root"})
    text = partial.describe()
    assert "pid ns" in text and "NO net (refused here: x)" in text and "NO user (not root)" in text
    assert not partial.full
    none = Isolation((), {"mount": "no unshare", "pid": "no unshare", "net": "no unshare", "user": "no unshare"})
    assert none.command(["python", "x"], ["/hide"], "") == ["python", "x"]
    assert "NO mount (no unshare)" in none.describe()


def test_student_errors_keep_their_builtin_type():
    from genlab.grading.verdict import StudentError, _student_error

    error = _student_error("ValueError", "batch size 24 is not a multiple of 5")
    assert isinstance(error, ValueError) and isinstance(error, StudentError)
    other = _student_error("MyOwnError", "boom")
    assert isinstance(other, StudentError) and not isinstance(other, ValueError) and "MyOwnError" in str(other)


def test_cli_reports_unknown_lab_and_missing_submissions(tmp_path, capsys):
    from genlab.cli import main

    assert main(["assign", "no_such_lab"]) == 2
    assert "no lab named 'no_such_lab'" in capsys.readouterr().err
    assert main(["grade", str(tmp_path / "missing.ipynb"), "--out", str(tmp_path / "g.csv")]) == 2
    err = capsys.readouterr().err
    assert "missing.ipynb not found" in err and "neither a notebook" not in err
    (tmp_path / "notes.txt").write_text("hello")
    assert main(["grade", str(tmp_path / "notes.txt"), "--out", str(tmp_path / "g.csv")]) == 2
    assert "neither a notebook" in capsys.readouterr().err


def test_a_notebook_that_is_not_json_is_graded_invalid(tmp_path):
    from genlab.grading.grade import notebook_problem

    bad = tmp_path / "alice.ipynb"
    bad.write_text("print('I saved my notebook as a script')\n")
    assert "not valid JSON" in notebook_problem(bad)
    bad.write_text('{"metadata": {}}')
    assert "no cells" in notebook_problem(bad)
    bad.write_text('{"cells": [], "metadata": {}}')
    assert notebook_problem(bad) is None


def test_figure_cells_without_images_finds_bare_figure_text():
    from genlab.grading.labs import figure_cells_without_images

    def cell(source, *outputs):
        return {"cell_type": "code", "source": source, "outputs": list(outputs)}

    text = {"output_type": "execute_result", "data": {"text/plain": "<Figure size 1380x260 with 6 Axes>"}}
    image = {"output_type": "execute_result", "data": {"text/plain": "<Figure ...>", "image/png": "iVBOR"}}
    nb = {"cells": [
        cell("from genlab.figures.gan2d import coverage_over_time as cot\nfrom genlab.figures.dirac import dirac_portrait"),
        cell("cot(h)", image),                       # fine
        cell("x = 1\ndirac_portrait()", text),        # the symptom: text, no image
        cell("print(1)\ncot(h)"),                     # a figure call that showed nothing
        cell("make_my_own_figure()", text),          # any Figure shown as text counts
        cell("print('no figure here')"),
    ]}
    assert figure_cells_without_images(nb) == ["cell 2: dirac_portrait()", "cell 3: cot(h)",
                                               "cell 4: make_my_own_figure()"]


def test_feedback_sentence_keeps_the_reason_and_drops_the_code():
    from genlab.grading.results import one_sentence

    otter = ("Error at line 12 in test q1:\n      assert abs(g - 0.69) < 1e-4, 'msg'\n"
             "AssertionError: with D undecided the generator loss is log 2 = 0.693, not -0.693")
    assert one_sentence(otter) == "with D undecided the generator loss is log 2 = 0.693, not -0.693"
    assert one_sentence("Error at line 3 in test q2:\n  float(x)\nTypeError: bad operand") == "TypeError: bad operand"
    assert one_sentence("Error at line 3 in test q2:\n  assert x\nAssertionError: ") == \
        "the test's check failed (it gives no reason)"
    assert one_sentence("not graded: time limit reached") == "not graded: time limit reached"


def test_the_students_own_check_sees_plain_data_like_grading(tmp_path, monkeypatch):
    """grader.check in the notebook gives the tests the same plain data (and proxies) as grading does."""
    import jax.numpy as jnp

    from genlab.grading.student import local_grader

    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "q1.py").write_text(textwrap.dedent('''
        from otter.test_files import test_case
        OK_FORMAT = False
        name = "q1"
        points = 1

        @test_case()
        def test_q1(side, samples):
            import numpy as np
            assert type(samples) is np.ndarray and samples.shape == (3,)
            got = side(1.0)
            assert type(got) is str and got == "above"
            try:
                side(None)
            except ValueError:
                pass
            else:
                raise AssertionError("side(None) must raise ValueError")
    '''))

    class LiarStr(str):
        def __eq__(self, other):
            return True

        __hash__ = str.__hash__

    def honest(x):
        if x is None:
            raise ValueError("no x")
        return "above"

    monkeypatch.chdir(tmp_path)
    grader = local_grader("tests")
    assert grader.check("q1", global_env={"side": honest, "samples": jnp.zeros(3)}).passed_all
    assert not grader.check("q1", global_env={"side": lambda x: LiarStr("no"), "samples": jnp.zeros(3)}).passed_all


def test_for_preset_reads_the_graders_preset(monkeypatch):
    from genlab.grading.settings import for_preset, preset

    monkeypatch.setenv("GENLAB_PRESET", "tiny")
    assert preset() == "tiny" and for_preset({"tiny": 50, "cpu": 200, "gpu": 200}) == 50


def test_failing_test_message_names_the_line_of_the_test_that_failed():
    from otter.test_files.exception_test import ExceptionTestFile

    from genlab.grading.verdict import _error_message, _student_error

    source = ('from otter.test_files import test_case\nOK_FORMAT = False\nname = "q2"\npoints = 1\n\n'
              "@test_case(points=None, hidden=False)\ndef test_q2_merge(f):\n    x = 1\n    f(x)\n")
    tf = ExceptionTestFile.from_string(source)

    def student(x):
        raise _student_error("TypeError", "TypeError: add got incompatible shapes")

    try:
        tf.test_cases[0].body.test_func(student)
    except TypeError as exc:
        message = _error_message(tf, tf.test_cases[0].body.test_func, exc)
    assert message.startswith("Error at line 9 in test q2:\n  f(x)\n"), message
    assert message.endswith("TypeError: (raised by your code) add got incompatible shapes"), message


def test_cell_errors_of_unwritten_answers_say_so():
    from genlab.grading.harness import _placeholder_names, _unwritten

    stub = "def q6_step(theta):\n    ...\n\npath = [q6_step(1.0) for _ in range(3)]\nx, y = path[0]\n"
    err = TypeError("cannot unpack non-iterable NoneType object")
    assert _unwritten(stub, err, set()) == "not written yet: q6_step (TypeError)"
    assert _unwritten("print(q3_modes)", NameError("name 'q3_modes' is not defined", name="q3_modes"), set()) \
        == "q3_modes does not exist yet: it comes from the cell under Q3"
    later = "norm = sum(q6_step(2.0))"
    assert _unwritten(later, err, _placeholder_names(stub)).startswith("uses q6_step, not written yet (TypeError")
    assert _unwritten("x = 1 / 0", ZeroDivisionError("division by zero"), _placeholder_names(stub)) is None
    method = "class Q2Net:\n    def __call__(self, x):\n        ...\n"
    assert _unwritten("y = Q2Net()(1)[0]", TypeError("'NoneType' object is not subscriptable"),
                      _placeholder_names(method)).startswith("uses Q2Net, not written yet")


def test_private_tmp_shows_what_python_needs_and_nothing_else(tmp_path, monkeypatch):
    from genlab.grading import isolation

    kept, other = tmp_path / "kept", tmp_path / "other"
    kept.mkdir()
    other.mkdir()
    (kept / "a.txt").write_text("seen")
    (other / "b.txt").write_text("secret")
    jail = isolation.probe("")
    if "mount" not in jail.active:
        assert "mount" in jail.missing, "a missing mechanism must be named"
        return
    needed = isolation.kept_under_tmp()  # a venv or checkout under /tmp (a clean clone there) stays visible
    monkeypatch.setattr(isolation, "kept_under_tmp", lambda: [*needed, str(kept)])
    as_root = isolation.Isolation(tuple(m for m in jail.active if m != "user"), {})  # pytest's tmp is 0700
    code = f"import os, genlab; print(open('{kept}/a.txt').read(), os.path.exists('{other}/b.txt'))"
    done = subprocess.run(as_root.command([sys.executable, "-c", code], [], ""), capture_output=True, text=True,
                          cwd="/", timeout=120)
    assert done.stdout.split() == ["seen", "False"], done.stderr[-2000:]


def test_kept_paths_under_tmp_are_the_outermost_ones(monkeypatch):
    from genlab.grading import isolation

    monkeypatch.setattr(sys, "prefix", "/tmp/clone/.venv")
    monkeypatch.setattr(sys, "base_prefix", "/usr")
    kept = isolation.kept_under_tmp()
    assert "/tmp/clone/.venv" in kept or any("/tmp/clone/.venv".startswith(k + "/") for k in kept)
    assert all(k.startswith("/tmp/") for k in kept)
    assert not any(a != b and a.startswith(b + "/") for a in kept for b in kept)
