"""What a lab's setup cell calls: ``lab_setup(PRESET)``. In Jupyter, JupyterLab and Colab it

- shows genlab's figures (bare ``matplotlib.figure.Figure`` objects) inline as PNG images, with the
  preset's note on them at ``tiny``;
- makes an answer that is not written yet say so: in the student notebook a function whose body is
  ``...`` raises :class:`NotWritten` ("q3_pack is not implemented yet: write it in the cell under Q3"),
  and so does a placeholder ``q3_samples = ...``; a cell that meets one, or the name of an answer that
  does not exist yet, stops with a one-line note instead of a traceback, and is not an error, so "Run
  All" carries on to the end.

Outside IPython (the grader runs cells as plain Python) it does nothing. The rewriting of ``...`` happens
only while a cell runs; the notebook's text is never changed.
"""

from __future__ import annotations

import ast
import re
from typing import Any

# An answer's name starts with its question: q3_samples, q4_pack, Q2MiniUNet.
ANSWER_NAME = re.compile(r"^[qQ](\d+)(?:_|[A-Z])")
TODO = "_genlab_todo"  # the function a rewritten `...` calls (put in the notebook's namespace)
_OUT = "_genlab_last"  # holds a cell's last value while the cell is guarded


def question_of(name: str) -> str | None:
    """``q3_samples`` -> ``"Q3"``; None for a name that is not an answer's."""
    m = ANSWER_NAME.match(name.split(".")[0].split("[")[0].strip())
    return f"Q{m.group(1)}" if m else None


class NotWritten(Exception):
    """An answer of the lab that the student has not written yet."""

    def __init__(self, name: str, kind: str = "value"):
        self.name, self.kind, self.question = name, kind, question_of(name)
        where = f"write it in the cell under {self.question}" if self.question else "write it where the lab asks"
        what = "is not implemented yet" if kind == "function" else "is not written yet"
        super().__init__(f"{name} {what}: {where}")


def todo(name: str, kind: str = "value"):
    """What a rewritten ``...`` runs: raises :class:`NotWritten` for ``name``."""
    raise NotWritten(name, kind)


# ------------------------------------------------------------------------------------------- rewriting
def _target(node: ast.AST) -> str:
    return ast.unparse(node).strip("()") if not isinstance(node, ast.Name) else node.id


def _is_dots(node: ast.AST | None) -> bool:
    return isinstance(node, ast.Constant) and node.value is Ellipsis


def _stub_dots(fn: ast.AST) -> ast.Constant | None:
    """The ``...`` of a function whose whole body is ``...`` (after an optional docstring)."""
    body = list(fn.body)
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
            and isinstance(body[0].value.value, str):
        body = body[1:]
    if len(body) == 1 and isinstance(body[0], ast.Expr) and _is_dots(body[0].value):
        return body[0].value
    return None


def _your_code_here(lines: list[str], lineno: int) -> str | None:
    """The answer a bare ``...`` stands for, from the comment above it: ``# q3_history = fit(...): your code``."""
    for line in reversed(lines[: lineno - 1]):
        stripped = line.strip()
        if not stripped:
            continue
        m = re.match(r"#\s*([A-Za-z_][\w\[\]'\"., ]*?)\s*=", stripped)
        return m.group(1) if m and question_of(m.group(1)) else None
    return None


def placeholders(source: str) -> list[tuple[int, int, str, str]]:
    """``(line, column, name, kind)`` of every ``...`` that stands for an unwritten answer in a cell: the body
    of a stub function or method, the value of a top-level assignment, a bare top-level ``...``."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    lines = source.splitlines()
    found = []

    def function(fn, qualname):
        dots = _stub_dots(fn)
        if dots is not None:
            found.append((dots.lineno, dots.col_offset, qualname, "function"))

    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            function(node, node.name)
        elif isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    function(item, f"{node.name}.{item.name}")
        elif isinstance(node, (ast.Assign, ast.AnnAssign)) and _is_dots(node.value):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            found.append((node.value.lineno, node.value.col_offset, ", ".join(_target(t) for t in targets), "value"))
        elif isinstance(node, ast.Expr) and _is_dots(node.value):
            name = _your_code_here(lines, node.lineno) or "the code of this cell"
            found.append((node.value.lineno, node.value.col_offset, name, "value"))
    return found


def rewrite_placeholders(source: str) -> str:
    """``source`` with every unwritten answer's ``...`` replaced by ``_genlab_todo("name", "kind")``; lines and
    columns of everything else stay where they were."""
    lines = source.split("\n")
    for lineno, col, name, kind in sorted(placeholders(source), reverse=True):
        line = lines[lineno - 1]
        if line[col:col + 3] == "...":
            lines[lineno - 1] = f"{line[:col]}{TODO}({name!r}, {kind!r}){line[col + 3:]}"
    return "\n".join(lines)


class _Guard(ast.NodeTransformer):
    """Wrap a cell in ``try: ... except (NotWritten, NameError): <note>``, keeping its last value displayed."""

    def visit_Module(self, node: ast.Module) -> ast.Module:
        if not node.body:
            return node
        body, last = list(node.body), None
        if isinstance(body[-1], ast.Expr):
            last = body.pop().value
            body.append(ast.Assign(targets=[ast.Name(_OUT, ast.Store())], value=last))
        handler = ast.parse(
            f"try:\n    pass\nexcept ({TODO}.NotWritten, NameError) as _genlab_err:\n"
            f"    if not {TODO}.skip_note(_genlab_err):\n        raise\n" + (f"    {_OUT} = None\n" if last else "")
        ).body[0]
        handler.body = body
        new = [handler] + ([ast.Expr(ast.Name(_OUT, ast.Load()))] if last is not None else [])
        module = ast.Module(body=new, type_ignores=node.type_ignores)
        return ast.fix_missing_locations(ast.copy_location(module, node))


def skip_note(err: BaseException) -> bool:
    """Print the one-line note for ``err`` and return True when it is an unwritten answer; else False."""
    if isinstance(err, NotWritten):
        print(f"[not written yet] {err}. (This cell stopped here.)")
        return True
    name = getattr(err, "name", None)
    if isinstance(err, NameError) and name and question_of(name):
        print(f"[not written yet] {name} does not exist yet: it comes from the cell under {question_of(name)} "
              "(write and run that cell first). (This cell stopped here.)")
        return True
    return False


todo.NotWritten, todo.skip_note = NotWritten, skip_note  # the guard of a cell reaches them through the one name


# ---------------------------------------------------------------------------------------------- setup
def _show_figures_inline(shell) -> None:
    from IPython.core.pylabtools import print_figure
    from matplotlib.figure import Figure

    from genlab.figures.notes import add_note

    try:
        shell.run_line_magic("matplotlib", "inline")  # pyplot figures too, where matplotlib-inline is there
    except Exception:  # noqa: BLE001 - no inline backend: the formatter below still shows genlab's figures
        pass
    png = shell.display_formatter.formatters["image/png"]
    png.for_type(Figure, lambda fig: print_figure(add_note(fig), "png", bbox_inches="tight", base64=True))


def _ipython() -> Any:
    """The running IPython shell, or None. IPython is never imported here: where it is not loaded yet (the
    grader's plain Python) there is no shell."""
    import sys

    ipython = sys.modules.get("IPython")
    return ipython.get_ipython() if ipython is not None and hasattr(ipython, "get_ipython") else None


def lab_setup(preset: str | None = None, *, note: str | None = None) -> bool:
    """Call once, in a lab's setup cell. Returns True when it set up an IPython kernel, False elsewhere.

    preset: the lab's preset; at ``tiny`` every figure shown says so (``note`` overrides the text).
    """
    from genlab.figures.notes import set_figure_note

    shell = _ipython()
    if shell is None or not hasattr(shell, "display_formatter"):
        return False
    if preset == "tiny" or note:
        set_figure_note(note or "tiny preset: a short training, not the lab's results")
    _show_figures_inline(shell)
    shell.user_ns[TODO] = todo  # what a rewritten `...` calls; the guard reads todo.NotWritten, todo.skip_note
    if not any(getattr(t, "__name__", "") == "_genlab_placeholders" for t in shell.input_transformers_post):
        def _genlab_placeholders(lines: list[str]) -> list[str]:
            source = "".join(lines)
            rewritten = rewrite_placeholders(source)
            return lines if rewritten == source else rewritten.splitlines(keepends=True)

        shell.input_transformers_post.append(_genlab_placeholders)
    if not any(isinstance(t, _Guard) for t in shell.ast_transformers):
        shell.ast_transformers.append(_Guard())
    return True
