"""The grading child process: ``python -m genlab.grading.harness RESULT_FD``.

Protocol (the parent is :mod:`genlab.grading.sandbox`):

1. stdin, first line: a JSON job (notebook, workdir, seed, deadlines, modules to preload,
   folders to deny, cells to skip).
2. The child preloads the modules the tests import, installs the audit hook
   (:mod:`genlab.grading.guard`), snapshots the trusted modules, and executes the notebook's
   code cells in one namespace (magics and shell lines skipped, ``SEED`` set before each cell
   like otter does). Before each cell it reports ``{"type": "cell", "index": i}``.
3. It restores the trusted modules, reports ``{"type": "ready"}``, and only then receives the
   tests (second stdin line): top-level student code never has the tests within reach.
4. It runs every test case with otter's exception-test classes against the final namespace
   (the student's ``grader`` object plays no part) and reports one ``{"type": "result"}`` line.

Messages go to a pipe the parent created, never to a file.
"""

from __future__ import annotations

import json
import os
import re
import signal
import sys
import threading
import time
import traceback

from genlab.grading.student import SETUP_TAG

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


def run_cells(cells, ns, job, send, report):
    """Execute the code cells; record errors; stop at the cell deadline."""
    deadline = time.monotonic() + job["cell_seconds"]
    skip = set(job.get("skip_cells", []))

    def on_alarm(signum, frame):
        raise CellTimeout()

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
            report["cell_errors"].append(f"{where}: {_short(exc)}")
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)


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


def main(result_fd: int) -> None:
    write, dumps, exit_now, stdin = os.write, json.dumps, os._exit, sys.stdin

    def send(message):
        data = (dumps(message) + "\n").encode()
        while data:
            data = data[write(result_fd, data) :]

    job = json.loads(stdin.readline())
    _limit_resources(job.get("memory_mb", 0))
    _fast_imports()
    for name in ["numpy", "numpy.testing", "jax", "jax.numpy", "otter.test_files"] + job.get("preload", []):
        try:
            __import__(name)
        except Exception:
            pass
    import jax.numpy as jnp

    jnp.zeros(1).block_until_ready()  # initialise the backend before the lock-down

    from genlab.grading import guard

    report = {"status": "ok", "notes": [], "cell_errors": [], "refusals": [], "restored": []}
    guard.install_audit_hook(job["workdir"], job.get("deny", []), report["refusals"])
    snapshot = guard.Snapshot(also=(__name__,))  # a cell may `import __main__` and patch us
    try:
        with open(job["notebook"], encoding="utf-8") as f:
            cells = list(json.load(f)["cells"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        report["cell_errors"].append(f"the notebook could not be read as a Jupyter notebook: {_short(exc)}")
        cells = []
    ns = {"__name__": "__main__", "display": lambda *a, **k: None}

    run_cells(cells, ns, job, send, report)

    report["restored"] = snapshot.restore()
    running = [t.name for t in threading.enumerate() if t is not threading.main_thread() and not t.daemon]
    if running:
        report["notes"].append(f"threads started by the notebook still ran during the tests: {running}")
    send({"type": "ready"})
    tests = json.loads(stdin.readline() or "{}")
    stdin.close()
    if "sources" not in tests:
        report["status"] = "tampering"
        report["notes"].append("the tests never arrived: something else read the grader's input")
        tests = {"sources": {}, "seconds": 0, "nonce": None}
    nonce = tests.pop("nonce", None)
    report["cases"] = run_tests(tests.pop("sources"), ns, tests["seconds"])
    send({"type": "result", "nonce": nonce, **report})
    exit_now(0)


if __name__ == "__main__":
    main(int(sys.argv[1]))
