"""The student's side of grading: ``python -m genlab.grading.harness MESSAGE_FD``.

It runs inside the isolation of :mod:`genlab.grading.isolation` and never sees a test. Protocol (the
trusted side is :mod:`genlab.grading.sandbox` and :mod:`genlab.grading.verdict`):

1. stdin, first line: a JSON job (the notebook itself, seed, deadlines, modules to preload, folders
   the audit hook denies, cells to skip).
2. It writes the notebook into its work folder, installs the audit hook (:mod:`genlab.grading.guard`),
   and executes the code cells in one namespace (magics and shell lines skipped, ``SEED`` set before
   each cell like otter does), reporting ``{"type": "cell", "index": i}`` before each.
3. It restores the trusted modules it snapshotted before the cells (numpy, builtins, ...: the code that
   answers must work even when a cell patched them), reports ``{"type": "ready", ...}`` (cell errors,
   notes, refusals, what was restored) and then answers requests, one
   JSON line each on stdin, with one ``{"type": "response", "id": ...}`` each, in the no-pickle format
   of :mod:`genlab.grading.channel`:

   - ``{"op": "get", "name": n}``: the value of ``n`` in the namespace (functions as handles);
   - ``{"op": "call", "fn": h, "args": [...], "kwargs": {...}}``: call a function handle;
   - ``{"op": "grad", "fn": h, "args": [...], "argnums": 0}``: ``jax.grad`` of a handle, at ``args``;
   - ``{"op": "legacy_tests", "sources": {...}, "seconds": s}``: labs still in the old format only:
     run otter's tests here, in the student's process;
   - ``{"op": "bye"}``: the last refusals, then exit.

Nothing it sends is a verdict: the trusted side decides pass or fail from plain data. Messages go to a
pipe the parent created; stdout and stderr (flushed before exit) are the student's log.
"""

from __future__ import annotations

import ast
import json
import os
import re
import signal
import sys
import threading
import time
import traceback

from genlab.grading.student import SETUP_TAG
from genlab.notebook import placeholders, question_of

_CHECK_CELL = re.compile(r"^\s*grader\.(check|check_all|export)\(.*\)\s*$")


class CellTimeout(BaseException):
    """The cells used up their share of the time limit."""


class TestTimeout(Exception):
    """A test case ran past its share of the time limit."""


def cell_code(cell: dict) -> str | None:
    """The Python source of a code cell, or None when grading skips it."""
    if cell.get("cell_type") != "code" or SETUP_TAG in cell.get("metadata", {}).get("tags", []):
        return None
    source = cell.get("source", "")
    source = "".join(source) if isinstance(source, list) else source
    lines = source.splitlines()
    if lines and lines[0].lstrip().startswith("%%"):
        return None
    body = [ln for ln in lines if ln.strip() and not ln.lstrip().startswith("#")]
    if body and all(_CHECK_CELL.match(ln) for ln in body):
        return None
    out = []
    for line in lines:
        stripped = line.lstrip()
        if stripped.startswith(("%", "!")):
            line = line[: len(line) - len(stripped)] + "pass  # magic/shell line skipped by the grader"
        out.append(line)
    return "\n".join(out)


def _short(exc: BaseException, limit: int = 400) -> str:
    text = f"{type(exc).__name__}: {exc}"
    return text if len(text) <= limit else text[:limit] + " ..."


def _cell_line(exc: BaseException, filename: str) -> int | None:
    """The last line of the cell that the traceback passes through."""
    lines = [n for fr, n in traceback.walk_tb(exc.__traceback__) if fr.f_code.co_filename == filename]
    return lines[-1] if lines else None


def _unwritten(code: str, exc: BaseException, pending: set[str]) -> str | None:
    """What a Jupyter kernel would say for an answer not written yet (``genlab.notebook``), or None: a name of a
    later answer that does not exist, a cell that still holds the lab's ``...`` placeholders, or a cell that
    uses an answer an earlier cell left unwritten (``pending``)."""
    name = getattr(exc, "name", None)
    if isinstance(exc, NameError) and name and question_of(name):
        return f"{name} does not exist yet: it comes from the cell under {question_of(name)}"
    try:
        names = list(dict.fromkeys(n for _, _, n, _ in placeholders(code)))
        used = sorted({n.id for n in ast.walk(ast.parse(code)) if isinstance(n, ast.Name)} & pending)
    except SyntaxError:
        return None
    if names:
        return f"not written yet: {', '.join(names)} ({type(exc).__name__})"
    if used:
        return f"uses {', '.join(used)}, not written yet ({_short(exc, 120)})"
    return None


def _placeholder_names(code: str) -> set[str]:
    try:
        # `Q2MiniUNet.__call__` unwritten: a cell that uses Q2MiniUNet meets it
        return {part.strip().split(".")[0] for _, _, n, _ in placeholders(code) for part in n.split(",")}
    except SyntaxError:
        return set()


def run_cells(cells, ns, job, send, report):
    """Execute the code cells; record errors; stop at the cell deadline."""
    deadline = time.monotonic() + job["cell_seconds"]
    skip = set(job.get("skip_cells", []))

    def on_alarm(signum, frame):
        raise CellTimeout()

    pending: set[str] = set()  # answers an earlier cell left as `...`
    for index, cell in enumerate(cells):
        code = cell_code(cell)
        if code is None:
            continue
        if index in skip:
            report["notes"].append(f"cell {index} was not run (it ended an earlier grading run)")
            continue
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            report["notes"].append(f"time limit reached: cells from {index} on were not run")
            break
        send({"type": "cell", "index": index})
        if job.get("seed_variable"):
            ns[job["seed_variable"]] = job["seed"]
        filename = f"<cell {index}>"
        signal.signal(signal.SIGALRM, on_alarm)
        signal.setitimer(signal.ITIMER_REAL, remaining)
        try:
            exec(compile(code, filename, "exec"), ns)
        except CellTimeout:
            report["status"] = "timeout"
            report["notes"].append(
                f"cell {index} was stopped at the time limit; cells after it were not run"
            )
            break
        except BaseException as exc:  # noqa: BLE001 - a student cell may raise anything
            line = _cell_line(exc, filename)
            where = f"cell {index}" + (f", line {line}" if line else "")
            report["cell_errors"].append(f"{where}: {_unwritten(code, exc, pending) or _short(exc)}")
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        pending |= _placeholder_names(code)


def run_tests(sources, ns, seconds):
    """Run every test case with otter's classes; one outcome per case."""
    from otter.test_files.exception_test import ExceptionTestFile

    deadline = time.monotonic() + seconds

    def on_alarm(signum, frame):
        raise TestTimeout("the test ran past the time limit")

    outcomes = {}
    for question, source in sources.items():
        test_file = ExceptionTestFile.from_string(source, path=f"{question}.py")
        cases = []
        for tc in test_file.test_cases:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                cases.append({"name": tc.name, "passed": False, "message": "not run: time limit reached"})
                continue
            passed, message = True, "passed"
            signal.signal(signal.SIGALRM, on_alarm)
            signal.setitimer(signal.ITIMER_REAL, remaining)
            try:
                tc.body.call_func(ns)
            except BaseException as exc:  # noqa: BLE001 - the student's objects may raise anything
                passed = False
                try:
                    message = test_file._generate_error_message(exc)
                except Exception:
                    message = _short(exc)
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
            cases.append({"name": tc.name, "passed": passed, "message": message})
        outcomes[question] = cases
    return outcomes


def _fast_imports() -> None:
    """Skip two slow imports that grading never uses (about 4 s per submission).

    jsonschema (via nbformat) compiles an IRI grammar when ``rfc3987_syntax`` is installed; it
    treats the module as optional. Otter's package ``__init__`` pulls in nbconvert and pandas, but
    the tests need only ``otter.test_files``: ``otter`` becomes a package whose ``__init__`` runs
    on first attribute use (``otter.Notebook`` in a student's cell still works).
    """
    import importlib.util
    import types

    sys.modules.setdefault("rfc3987_syntax", None)
    spec = importlib.util.find_spec("otter")
    if "otter" in sys.modules or spec is None or not spec.submodule_search_locations:
        return
    package = types.ModuleType("otter")
    package.__path__ = list(spec.submodule_search_locations)
    package.__file__, package.__package__, package.__spec__ = spec.origin, "otter", spec

    def load_rest(name):
        if name.startswith("__"):
            raise AttributeError(name)
        del package.__getattr__
        with open(spec.origin, encoding="utf-8") as f:
            exec(compile(f.read(), spec.origin, "exec"), vars(package))
        return getattr(package, name)

    package.__getattr__ = load_rest
    sys.modules["otter"] = package


def _limit_resources(memory_mb: int) -> None:
    """RLIMIT_DATA, not RLIMIT_AS: XLA reserves far more address space than it uses."""
    import resource

    if memory_mb:
        limit = int(memory_mb) * 2**20
        resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_FSIZE, (2**30, 2**30))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a too-big file fails the write, not the process


class _Handles:
    """Functions the trusted side may call, by number (it never gets the objects themselves)."""

    def __init__(self):
        self.objects: list = []

    def encode(self, obj) -> dict:
        for i, known in enumerate(self.objects):
            if known is obj:
                break
        else:
            self.objects.append(obj)
            i = len(self.objects) - 1
        return {"t": "function", "id": i, "name": str(getattr(obj, "__name__", type(obj).__name__))[:200]}

    def get(self, i, name=""):
        if not 0 <= i < len(self.objects):
            raise LookupError(f"no function handle {i}")
        return self.objects[i]


def serve(ns, send, requests, report, handles):
    """Answer the trusted side's requests until ``bye`` (or stdin closes)."""
    from genlab.grading import channel

    def decode(node):
        return channel.decode(node, handles.get, channel.rebuild_record, channel.student_array)

    for raw in requests:
        try:
            request = channel.loads(raw)
            rid, op = request.get("id"), request.get("type")
        except channel.ChannelError:
            continue
        if op == "bye":
            send({"type": "response", "id": rid, "ok": {"refusals": list(report["refusals"])[-200:]}})
            return
        try:
            if op == "get":
                name = request["name"]
                value = ns[name] if name in ns else None
                out = {"ok": channel.encode(value, handles.encode), "missing": name not in ns}
            elif op == "call":
                fn = handles.get(request["fn"])
                args = decode(request["args"])
                kwargs = decode(request["kwargs"])
                out = {"ok": channel.encode(fn(*args, **kwargs), handles.encode)}
            elif op == "grad":
                import jax

                fn = handles.get(request["fn"])
                args = decode(request["args"])
                out = {"ok": channel.encode(jax.grad(fn, argnums=request.get("argnums", 0))(*args), handles.encode)}
            elif op == "legacy_tests":
                cases = run_tests(request["sources"], ns, request["seconds"])
                out = {"ok": channel.encode({"cases": cases, "restored": report["restored"]})}
            else:
                out = {"error": {"type": "LookupError", "message": f"unknown request {op!r}"}}
        except BaseException as exc:  # noqa: BLE001 - the student's function may raise anything
            out = {"error": {"type": type(exc).__name__, "message": _short(exc, 2000)}}
        try:
            send({"type": "response", "id": rid, **out})
        except Exception as exc:  # noqa: BLE001 - e.g. NaN in a dict key: say so instead of hanging
            send({"type": "response", "id": rid, "error": {"type": "ChannelError", "message": _short(exc)}})


def main(message_fd: int) -> None:
    write, dumps, exit_now, stdin = os.write, json.dumps, os._exit, sys.stdin

    def send(message):
        data = (dumps(message, allow_nan=True, separators=(",", ":")) + "\n").encode()
        while data:
            data = data[write(message_fd, data) :]

    def finish(code=0):
        for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
            try:
                stream.flush()
            except Exception:  # noqa: BLE001 - a student may have replaced or closed them
                pass
        exit_now(code)

    job = json.loads(stdin.buffer.readline())  # binary, as the requests later: nothing stays in a text buffer
    _limit_resources(job.get("memory_mb", 0))
    workdir = job["workdir"]
    os.makedirs(workdir, exist_ok=True)
    os.chdir(workdir)
    notebook = os.path.join(workdir, "submission.ipynb")
    with open(notebook, "w", encoding="utf-8") as f:
        f.write(job["notebook_text"])
    _fast_imports()
    for name in ["numpy", "numpy.testing", "jax", "jax.numpy", "otter.test_files", "genlab.grading.channel"] + job.get(
        "preload", []
    ):
        try:
            __import__(name)
        except Exception:
            pass
    import jax.numpy as jnp

    jnp.zeros(1).block_until_ready()  # initialise the backend before the lock-down

    from genlab.grading import guard

    report = {"status": "ok", "notes": [], "cell_errors": [], "refusals": [], "restored": []}
    guard.install_audit_hook(workdir, job.get("deny", []), report["refusals"])
    snapshot = guard.Snapshot(also=(__name__,))  # so that this side's own code still works after the cells
    try:
        cells = list(json.loads(job["notebook_text"])["cells"])
    except (ValueError, KeyError, TypeError) as exc:
        report["cell_errors"].append(f"the notebook could not be read as a Jupyter notebook: {_short(exc)}")
        cells = []
    ns = {"__name__": "__main__", "display": lambda *a, **k: None}

    run_cells(cells, ns, job, send, report)

    report["restored"] = snapshot.restore()  # the answers stay as they are; the serving code gets its tools back

    running = [t.name for t in threading.enumerate() if t is not threading.main_thread() and not t.daemon]
    if running:
        report["notes"].append(f"threads started by the notebook still ran during the tests: {running}")
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # noqa: BLE001
            pass
    send({"type": "ready", **{k: report[k] for k in ("status", "notes", "cell_errors", "refusals", "restored")}})
    serve(ns, send, iter(stdin.buffer.readline, b""), report, _Handles())
    finish(0)


if __name__ == "__main__":
    main(int(sys.argv[1]))
