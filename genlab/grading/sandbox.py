"""Grade one submission: the student's code in an isolated process, the verdicts here, from plain data.

The student's side is :mod:`genlab.grading.harness`, started under the mechanisms of
:mod:`genlab.grading.isolation`; the tests run in this (trusted) process, in
:mod:`genlab.grading.verdict`, and reach the student's names and functions only through the
no-pickle channel of :mod:`genlab.grading.channel`. What a submission can break, and what happens:

- a cell raises: recorded; later cells still run (questions that don't depend on it keep points);
- a cell loops forever: stopped at the time limit (SIGALRM in the child); cells after it don't run;
  if the child ignores that, its whole process tree is killed at the hard limit;
- memory: ``RLIMIT_DATA`` (JAX's address-space reservations break ``RLIMIT_AS``) makes big
  allocations raise ``MemoryError`` in the cell; a watchdog on the RSS of the process tree kills
  what slips through;
- the process dies during the cells (killed, ``os._exit``, abort): graded once more without the cell
  that was running, with a note; it dies while a test calls one of its functions: that test and the
  ones after it fail, earlier verdicts stand;
- processes it starts: all end when its run ends (PID namespace; without one, the grader kills every
  descendant it can find, as their subreaper);
- the channel: anything but well-formed messages in their place (a forged result, a second ``ready``,
  an answer to a request never made) is recorded as a protocol breach (status ``tampering``); it can
  never pass a test, which only the trusted side decides.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from genlab.grading.bundle import Bundle
from genlab.grading.process import StudentProcess

_ENV_PASS = ("PATH", "LANG", "LC_ALL", "LD_LIBRARY_PATH", "PYTHONPATH")
_ENV_PREFIXES = ("JAX_", "XLA_", "CUDA_", "NVIDIA_", "TPU_", "GENLAB_")


@dataclasses.dataclass(frozen=True)
class Limits:
    timeout_s: float = 900.0  # soft limit: cells get 75 %, tests 20 %
    memory_mb: int = 4096  # RLIMIT_DATA of the child; 0 = no limit
    grace_s: float = 20.0  # hard kill at timeout_s + grace_s (startup, reporting)
    attempts: int = 2  # runs per submission when the process dies mid-notebook


@dataclasses.dataclass
class RunReport:
    status: str  # ok | timeout | memory | crashed | tampering | invalid
    cases: dict[str, list[dict]] | None  # question -> [{"name", "passed", "message"}]
    notes: list[str] = dataclasses.field(default_factory=list)
    cell_errors: list[str] = dataclasses.field(default_factory=list)
    refusals: list[str] = dataclasses.field(default_factory=list)
    restored: list[str] = dataclasses.field(default_factory=list)
    log_tail: str = ""  # all of the student's output (up to LOG_LIMIT)
    wall_s: float = 0.0
    isolation: str = ""  # the mechanisms that were active (isolation.Isolation.describe)


def run_submission(notebook: Path, bundle: Bundle, limits: Limits, deny: list[Path] = (), isolation=None) -> RunReport:
    """Grade ``notebook`` against ``bundle``; never raises for student faults."""
    from genlab.grading import isolation as iso

    start = time.monotonic()
    mpl = _matplotlib_cache()
    jail = isolation if isolation is not None else iso.probe(mpl)
    text = Path(notebook).read_text(encoding="utf-8", errors="replace")
    skip: list[int] = []
    notes: list[str] = []
    logs: list[str] = []
    for attempt in range(max(1, limits.attempts)):
        report, last_cell, died_in_cells = _run_once(text, bundle, limits, [str(d) for d in deny], skip, jail, mpl)
        logs.append(report.log_tail)
        if not died_in_cells or last_cell is None or last_cell in skip or attempt + 1 >= limits.attempts:
            break
        notes.append(f"cell {last_cell} ended the grading process ({report.notes[-1]}); graded again without it")
        skip.append(last_cell)
    report.notes = notes + report.notes
    if len(logs) > 1:
        report.log_tail = "\n".join(f"===== grading run {i + 1} =====\n{log}" for i, log in enumerate(logs))
    report.wall_s = round(time.monotonic() - start, 2)
    report.isolation = jail.describe()
    return report


def _child_env(workdir: str, mpl: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k in _ENV_PASS or k.startswith(_ENV_PREFIXES)}
    env.update(HOME=workdir, TMPDIR=workdir, MPLBACKEND="Agg", MPLCONFIGDIR=mpl, PYTHONUNBUFFERED="1")
    env["GENLAB_PRESET"] = _preset()  # the student's side and the tests agree on the preset
    env.setdefault("PATH", "/usr/bin:/bin")
    return env


def _preset() -> str:
    from genlab.grading.settings import preset

    return preset()


def _matplotlib_cache() -> str:
    """A matplotlib config folder with its font cache built once, outside any submission.

    Without it, matplotlib in every child would build the cache and shell out to ``fc-list``,
    which the audit hook refuses (noise in the feedback). The child only reads it.
    """
    path = Path.home() / ".cache" / "genlab" / "matplotlib"
    if not any(path.glob("fontlist-*.json")):
        path.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [sys.executable, "-c", "import matplotlib.font_manager"],
            env={**os.environ, "MPLCONFIGDIR": str(path)}, capture_output=True, timeout=300,
        )  # fmt: skip
    return str(path)


def _preload(bundle: Bundle) -> list[str]:
    """Modules the tests import (legacy labs: the child snapshots them before student code runs)."""
    import ast

    names = set()
    for source in bundle.sources.values():
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Import):
                names.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module)
    return sorted(names)


def _hidden(paths: list[str]) -> list[str]:
    """Folders and files to hide from the child: never one that holds genlab or Python themselves."""
    import genlab

    keep = [os.path.realpath(p) for p in (os.path.dirname(genlab.__file__), sys.prefix, sys.base_prefix)]
    out = []
    for p in dict.fromkeys(os.path.realpath(p) for p in paths):
        if any(k == p or k.startswith(p.rstrip("/") + "/") for k in keep) or p == "/":
            continue  # read-only is all it gets (it holds the code the child runs)
        out.append(p)
    return out


def _run_once(text, bundle, limits, deny, skip, jail, mpl):
    isolated = "mount" in jail.active
    scratch = None if isolated else tempfile.mkdtemp(prefix="genlab-grade-")
    workdir = "/tmp/work" if isolated else scratch
    mpl_child = "/tmp/mpl" if isolated else mpl
    job = {
        "notebook_text": text,
        "workdir": workdir,
        "seed_variable": bundle.seed_variable,
        "seed": bundle.seed,
        "cell_seconds": 0.75 * limits.timeout_s,
        "memory_mb": limits.memory_mb,
        "preload": _preload(bundle) if bundle.legacy else [],
        "legacy": bundle.legacy,
        "deny": [os.path.realpath(d) for d in deny] + [str(bundle.root)],
        "skip_cells": skip,
    }
    hide = list(deny) + [str(bundle.root)]
    if bundle.root.parent.parent.name == "dist":  # every lab's bundle, not only this one
        hide.append(str(bundle.root.parent.parent))
    child = StudentProcess(jail, mpl, workdir, _child_env(workdir, mpl_child), _hidden(hide), limits)
    try:
        child.send(job)
        ready = child.wait_ready(0.75 * limits.timeout_s + limits.grace_s)
        cases, restored = None, []
        if ready is not None:
            tests_deadline = time.monotonic() + 0.2 * limits.timeout_s
            cases, restored = _verdicts(child, bundle, tests_deadline)
            child.bye()
        child.stop()
    finally:
        child.stop()
        if scratch:
            shutil.rmtree(scratch, ignore_errors=True)
    return _conclude(child, ready, cases, restored, bundle), child.last_cell, ready is None


def _verdicts(child, bundle, deadline):
    from genlab.grading import verdict

    student = verdict.Student(child, deadline)
    if not bundle.legacy:
        settings = {bundle.seed_variable: bundle.seed} if bundle.seed_variable else {}
        return verdict.run_tests(bundle, student, settings), None
    try:  # labs still in the old format: otter's tests run in the student's process
        out = student.request("legacy_tests", sources=dict(bundle.sources), seconds=deadline - time.monotonic())
        if type(out) is not dict:
            raise TypeError("not a dict")
        return out.get("cases"), [str(r) for r in (out.get("restored") or [])][:100]
    except Exception as exc:  # noqa: BLE001
        child.breaches.append(f"no valid test results from the student's process ({type(exc).__name__})")
        return None, []


def _strings(value, limit=200) -> list[str]:
    return [str(v)[:1000] for v in value[:limit]] if type(value) is list else []


def _conclude(child, ready, cases, restored, bundle) -> RunReport:
    log = child.log()
    ready = ready if type(ready) is dict else {}
    notes = _strings(ready.get("notes"))
    cell_errors = _strings(ready.get("cell_errors"))
    refusals = getattr(child, "final_refusals", None) or _strings(ready.get("refusals"))
    returncode = child.proc.returncode
    if not ready:
        if child.killed:
            status, reason = ("memory" if "memory" in child.killed else "timeout"), child.killed
        elif returncode is not None and returncode < 0:
            status, reason = "crashed", f"the process died from {signal.Signals(-returncode).name}"
            if -returncode in (signal.SIGKILL, signal.SIGABRT):
                status, reason = "memory", reason + " (most likely out of memory)"
        else:
            status, reason = "crashed", f"the process exited with code {returncode} before reporting"
        return RunReport(status, None, notes=[reason] + child.breaches[:1], log_tail=log, refusals=refusals)
    status = ready.get("status") if ready.get("status") in ("ok", "timeout") else "ok"
    if child.killed:
        status = "memory" if "memory" in child.killed else "timeout"
        notes.append(child.killed)
    if bundle.legacy and cases is not None:
        problem = _check_shape(cases, bundle)
        if problem:
            child.breaches.append(problem)
    if child.breaches:
        status = "tampering"
        breaches = "; ".join(dict.fromkeys(child.breaches))[:1000]
        if bundle.legacy:  # there the verdicts came from the student's process: none can be trusted
            cases = None
            notes.append(f"tampering: {breaches}")
        else:
            notes.append(f"protocol breach (ignored; the verdicts are the grader's own): {breaches}")
    if restored is None:
        restored = _strings(ready.get("restored"), 100)
    return RunReport(status, cases, notes=notes, cell_errors=cell_errors, refusals=refusals, restored=restored,
                     log_tail=log)  # fmt: skip


def _check_shape(cases, bundle) -> str | None:
    """Legacy labs: the result must name exactly the bundle's questions and test cases, in order."""
    if not isinstance(cases, dict) or list(cases) != list(bundle.questions):
        return "the result does not list the lab's questions"
    for q, tf in bundle.test_files().items():
        names = [tc.name for tc in tf.test_cases]
        got = cases[q]
        if not isinstance(got, list) or [c.get("name") if isinstance(c, dict) else None for c in got] != names:
            return f"the result for {q} does not list its test cases"
        if not all(isinstance(c.get("passed"), bool) for c in got):
            return f"the result for {q} is malformed"
    return None
