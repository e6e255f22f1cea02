"""genlab.notebook: what a lab's setup cell does in Jupyter (figures inline, unwritten answers say so)."""

from __future__ import annotations

import nbformat
import pytest
from matplotlib.figure import Figure

from genlab.figures.notes import TINY_NOTE, add_note, current_note, figure_note
from genlab.notebook import NotWritten, lab_setup, placeholders, question_of, rewrite_placeholders, skip_note

STUDENT_CELL = '''def q1_loss(x):
    """doc"""
    ...


class Q2Net:
    def __call__(self, x):
        ...

    def helper(self):
        return 1


start = 1
# q3_history = fit(...): your code here
...
q3_samples = ...
q3_modes, q3_hq = ...
q1_shapes["skip0"] = ...
'''


def test_placeholders_name_the_unwritten_answers():
    found = [(line, name, kind) for line, _, name, kind in placeholders(STUDENT_CELL)]
    assert found == [(3, "q1_loss", "function"), (8, "Q2Net.__call__", "function"), (16, "q3_history", "value"),
                     (17, "q3_samples", "value"), (18, "q3_modes, q3_hq", "value"),
                     (19, "q1_shapes['skip0']", "value")]
    assert placeholders("def f(x):\n    return x\ny = f(...)\n") == []  # `...` as a value stays
    assert placeholders("def broken(:\n") == []


def test_rewrite_keeps_every_line_in_place():
    out = rewrite_placeholders(STUDENT_CELL)
    assert len(out.splitlines()) == len(STUDENT_CELL.splitlines())
    assert "    _genlab_todo('q1_loss', 'function')" in out.splitlines()
    assert "q3_samples = _genlab_todo('q3_samples', 'value')" in out.splitlines()
    assert "start = 1" in out.splitlines()


def test_messages_say_what_to_write_and_where(capsys):
    assert question_of("q3_samples") == "Q3" and question_of("Q2MiniUNet.__call__") == "Q2"
    assert question_of("quality") is None and question_of("ring8_batch") is None
    assert str(NotWritten("q4_pack", "function")) == "q4_pack is not implemented yet: write it in the cell under Q4"
    assert str(NotWritten("q3_samples")) == "q3_samples is not written yet: write it in the cell under Q3"
    assert skip_note(NotWritten("q3_samples")) and "q3_samples is not written yet" in capsys.readouterr().out
    err = NameError("name 'q5_labels' is not defined", name="q5_labels")
    assert skip_note(err) and "q5_labels does not exist yet" in capsys.readouterr().out
    assert not skip_note(NameError("name 'np' is not defined", name="np"))  # a real mistake keeps its traceback
    assert not skip_note(ValueError("x"))


def test_lab_setup_outside_ipython_does_nothing():
    assert lab_setup("tiny") is False
    assert current_note() is None


def test_figure_notes():
    fig = Figure()
    fig.subplots()
    with figure_note(TINY_NOTE):
        assert current_note() == TINY_NOTE
        add_note(add_note(fig))
    assert current_note() is None
    assert [t.get_text() for t in fig.texts] == [TINY_NOTE]  # once, however often it is added
    add_note(fig)  # no note set now: nothing added
    assert len(fig.texts) == 1


def test_a_student_run_all_in_a_kernel_shows_images_and_notes(tmp_path):
    """In a real Jupyter kernel: a figure cell gets a PNG (noted at tiny), an unwritten answer stops its cell with
    a note and no error, a later cell that needs it skips, and an ordinary mistake still raises."""
    nbclient = pytest.importorskip("nbclient")
    cells = [
        "from genlab.notebook import lab_setup\nlab_setup('tiny')",
        STUDENT_CELL.replace('q1_shapes["skip0"] = ...\n', ""),
        "q1_value = q1_loss(3)\nprint('not reached')",
        "print(q3_samples)",
        "from matplotlib.figure import Figure\nfig = Figure(figsize=(2, 2))\nfig.subplots().plot([0, 1])\nfig",
        "undefined_zz",
    ]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbclient.NotebookClient(nb, timeout=120, allow_errors=True, resources={"metadata": {"path": str(tmp_path)}}).execute()
    outs = [c.outputs for c in nb.cells]
    text = ["".join(o.get("text", "") for o in out if o.output_type == "stream") for out in outs]
    assert "q3_history is not written yet: write it in the cell under Q3" in text[1]
    assert "q1_loss is not implemented yet" in text[2] and "not reached" not in text[2]
    assert "q3_samples does not exist yet" in text[3]
    assert not any(o.output_type == "error" for out in outs[:5] for o in out)
    assert any("image/png" in o.get("data", {}) for o in outs[4]), outs[4]
    assert [o.ename for o in outs[5] if o.output_type == "error"] == ["NameError"]
