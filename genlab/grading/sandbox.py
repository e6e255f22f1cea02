"""Run one submission in its own process, with a time limit, a memory limit and a clean folder.

The parent side of :mod:`genlab.grading.harness`. What a submission can break, and what happens:

- a cell raises: recorded; later cells still run (questions that don't depend on it keep points);
- a cell loops forever: stopped at the time limit (SIGALRM in the child); cells after it don't run;
  if the child ignores that, the parent kills it at the hard limit;
- memory: ``RLIMIT_DATA`` (JAX's address-space reservations break ``RLIMIT_AS``) makes big
  allocations raise ``MemoryError`` in the cell; a watchdog on RSS kills what slips through;
- the process dies (killed, ``os._exit``, abort): graded once more without the cell that was
  running, with a note;
- files outside its temporary folder: refused by the child's audit hook;
- the report channel: one pipe per run; more than one result, a malformed line, or results that
  don't match the bundle's test cases flag the run as tampering (zero points, with the reason).
"""

from __future__ import annotations

import dataclasses
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from genlab.grading.bundle import Bundle

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
    status: str  # ok | timeout | memory | crashed | tampering
    cases: dict[str, list[dict]] | None  # question -> [{"name", "passed", "message"}]
    notes: list[str] = dataclasses.field(default_factory=list)
    cell_errors: list[str] = dataclasses.field(default_factory=list)
    refusals: list[str] = dataclasses.field(default_factory=list)
    restored: list[str] = dataclasses.field(default_factory=list)
    log_tail: str = ""
    wall_s: float = 0.0


def run_submission(notebook: Path, bundle: Bundle, limits: Limits, deny: list[Path] = ()) -> RunReport:
    """Grade ``notebook`` against ``bundle`` in a child process; never raises for student faults."""
    start = time.monotonic()
    skip: list[int] = []
    notes: list[str] = []
    for attempt in range(max(1, limits.attempts)):
        report, last_cell = _run_once(Path(notebook), bundle, limits, list(deny), skip)
        if report.cases is not None or report.status == "tampering":
            break
        if last_cell is None or last_cell in skip or attempt + 1 >= limits.attempts:
            break
        notes.append(f"cell {last_cell} ended the grading process ({report.notes[-1]}); graded again without it")
        skip.append(last_cell)
    report.notes = notes + report.notes
    report.wall_s = round(time.monotonic() - start, 2)
    return report


def _child_env(workdir: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k in _ENV_PASS or k.startswith(_ENV_PREFIXES)}
    env.update(HOME=workdir, TMPDIR=workdir, MPLBACKEND="Agg", MPLCONFIGDIR=_matplotlib_cache())
    env.setdefault("PATH", "/usr/bin:/bin")
    return env


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
    """Modules the tests import, so the child snapshots them before student code runs."""
    import ast

    names = set()
    for source in bundle.sources.values():
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Import):
                names.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module)
    return sorted(names)


def _run_once(notebook, bundle, limits, deny, skip):
    workdir = tempfile.mkdtemp(prefix="genlab-grade-")
    target = os.path.join(workdir, "submission.ipynb")
    shutil.copyfile(notebook, target)
    job = {
        "notebook": target,
        "workdir": workdir,
        "seed_variable": bundle.seed_variable,
        "seed": bundle.seed,
        "cell_seconds": 0.75 * limits.timeout_s,
        "memory_mb": limits.memory_mb,
        "preload": _preload(bundle),
        "deny": [str(Path(d).resolve()) for d in deny] + [str(bundle.root)],
        "skip_cells": skip,
    }
    nonce = secrets.token_hex(16)  # sent with the tests; the result must echo it
    tests = {"sources": dict(bundle.sources), "seconds": 0.2 * limits.timeout_s, "nonce": nonce}
    read_fd, write_fd = os.pipe()
    proc = subprocess.Popen(
        [sys.executable, "-B", "-P", "-m", "genlab.grading.harness", str(write_fd)],
        cwd=workdir, env=_child_env(workdir), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, pass_fds=(write_fd,), start_new_session=True,
    )  # fmt: skip
    os.close(write_fd)
    channel = _Channel(read_fd, proc, tests)
    output = _Tail(proc.stdout)
    try:
        proc.stdin.write((json.dumps(job) + "\n").encode())
        proc.stdin.flush()
    except OSError:  # the child died at start-up; _conclude explains it
        pass
    killed = _watch(proc, limits)
    channel.thread.join(10)
    output.thread.join(10)
    shutil.rmtree(workdir, ignore_errors=True)
    return _conclude(channel, proc.returncode, killed, output.text(), bundle, nonce), channel.last_cell


def _watch(proc, limits) -> str | None:
    """Wait for the child; kill its process group at the hard time limit or the RSS ceiling."""
    hard = time.monotonic() + limits.timeout_s + limits.grace_s
    rss_ceiling = (limits.memory_mb * 1.25 + 512) * 2**20 if limits.memory_mb else None
    while proc.poll() is None:
        reason = None
        if time.monotonic() > hard:
            reason = f"killed at the hard time limit ({limits.timeout_s + limits.grace_s:.0f} s)"
        elif rss_ceiling and _rss(proc.pid) > rss_ceiling:
            reason = f"killed above the memory limit ({limits.memory_mb} MB)"
        if reason:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()
            return reason
        time.sleep(0.1)
    return None


def _rss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


class _Tail:
    """Keep the last 20 kB of the child's stdout/stderr (never block the child)."""

    def __init__(self, stream, keep: int = 20_000):
        self.chunks, self.keep, self.stream = [], keep, stream
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        size = 0
        for chunk in iter(lambda: self.stream.read1(65536), b""):
            self.chunks.append(chunk)
            size += len(chunk)
            while size > self.keep and len(self.chunks) > 1:
                size -= len(self.chunks.pop(0))

    def text(self) -> str:
        return b"".join(self.chunks).decode(errors="replace")[-self.keep :]


class _Channel:
    """Read the child's messages; send the tests on the first ``ready``; note protocol breaches."""

    def __init__(self, fd, proc, tests):
        self.fd, self.proc, self.tests = fd, proc, tests
        self.results, self.readies, self.breaches = [], 0, []
        self.last_cell = None
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        with os.fdopen(self.fd, "rb") as stream:
            for raw in stream:
                try:
                    message = json.loads(raw)
                    kind = message["type"]
                except (ValueError, KeyError, TypeError):
                    self.breaches.append("a malformed message on the result pipe")
                    continue
                if kind == "cell" and isinstance(message.get("index"), int):
                    self.last_cell = message["index"]
                elif kind == "ready":
                    self.readies += 1
                    if self.readies == 1:
                        self._send_tests()
                    else:
                        self.breaches.append("a second 'ready' message")
                elif kind == "result":
                    if not self.readies:
                        self.breaches.append("a result before the tests were sent")
                    self.results.append(message)
                else:
                    self.breaches.append(f"an unknown message type {kind!r}")

    def _send_tests(self):
        try:
            self.proc.stdin.write((json.dumps(self.tests) + "\n").encode())
            self.proc.stdin.close()
        except (BrokenPipeError, OSError):
            pass


def _conclude(channel, returncode, killed, log, bundle, nonce) -> RunReport:
    if len(channel.results) > 1:
        channel.breaches.append(f"{len(channel.results)} result messages instead of one")
    if channel.results and not secrets.compare_digest(str(channel.results[0].get("nonce")), nonce):
        channel.breaches.append("a result that does not answer the tests that were sent")
    if channel.breaches:
        return RunReport("tampering", None, notes=["tampering: " + "; ".join(channel.breaches)], log_tail=log)
    if not channel.results:
        if killed:
            status = "memory" if "memory" in killed else "timeout"
            reason = killed
        elif returncode is not None and returncode < 0:
            status, reason = "crashed", f"the process died from {signal.Signals(-returncode).name}"
            if -returncode in (signal.SIGKILL, signal.SIGABRT):
                status, reason = "memory", reason + " (most likely out of memory)"
        else:
            status, reason = "crashed", f"the process exited with code {returncode} before reporting"
        return RunReport(status, None, notes=[reason], log_tail=log)
    result = channel.results[0]
    problem = _check_shape(result.get("cases"), bundle)
    if problem:
        return RunReport("tampering", None, notes=[f"tampering: {problem}"], log_tail=log)
    return RunReport(
        status=str(result.get("status", "ok")),
        cases=result["cases"],
        notes=[str(n) for n in result.get("notes", [])],
        cell_errors=[str(e) for e in result.get("cell_errors", [])],
        refusals=[str(r) for r in result.get("refusals", [])],
        restored=[str(r) for r in result.get("restored", [])],
        log_tail=log,
    )


def _check_shape(cases, bundle) -> str | None:
    """The result must name exactly the bundle's questions and test cases, in order."""
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
