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
import queue
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
LOG_LIMIT = 8 * 2**20  # bytes of a submission's output kept in its log
_END = object()


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
    child = _Child(jail, mpl, mpl_child, workdir, _hidden(hide), limits)
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


class _Child:
    """The student's process: its messages, its output, its limits, its end."""

    def __init__(self, jail, mpl, mpl_child, workdir, hide, limits):
        from genlab.grading import channel

        self.limits, self.breaches, self.last_cell, self.killed = limits, [], None, None
        self.responses: queue.Queue = queue.Queue()
        self.ready = threading.Event()
        self.ready_message = None
        self.pending: set[int] = set()
        self.next_id = 0
        self._stopped = False
        self._log, self._log_size, self._log_dropped = [], 0, 0
        self._known_children = _children(os.getpid())
        read_fd, write_fd = os.pipe()
        argv = [sys.executable, "-B", "-P", "-m", "genlab.grading.harness", str(write_fd)]
        self.proc = subprocess.Popen(
            jail.command(argv, hide, mpl), cwd="/" if "mount" in jail.active else workdir,
            env=_child_env(workdir, mpl_child), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, pass_fds=(write_fd,), start_new_session=True,
        )  # fmt: skip
        os.close(write_fd)
        self._channel = channel
        self._reader = channel.LineReader(read_fd)
        self._read_fd = read_fd
        self.hard_deadline = time.monotonic() + limits.timeout_s + limits.grace_s
        self._threads = [threading.Thread(target=f, daemon=True) for f in (self._read, self._read_log, self._watch)]
        for t in self._threads:
            t.start()

    # -- messages from the child --------------------------------------------------------------------
    def _read(self):
        channel = self._channel
        try:
            for raw in self._reader:
                try:
                    message = channel.loads(raw)
                except channel.ChannelError as exc:
                    self.breaches.append(f"{exc} on the message pipe")
                    continue
                kind = message["type"]
                if kind == "cell" and type(message.get("index")) is int and not self.ready.is_set():
                    self.last_cell = message["index"]
                elif kind == "ready" and not self.ready.is_set():
                    self.ready_message = message
                    self.ready.set()
                elif kind == "response" and message.get("id") in self.pending:
                    self.pending.discard(message["id"])
                    self.responses.put(message)
                elif kind == "ready":
                    self.breaches.append("a second 'ready' message")
                elif kind == "response":
                    self.breaches.append("an answer to a request the grader never made")
                else:
                    self.breaches.append(f"an unexpected {kind[:40]!r} message")
        except channel.ChannelError as exc:
            self.breaches.append(f"{exc} on the message pipe")
        finally:
            os.close(self._read_fd)
            self.responses.put(_END)

    def _read_log(self):
        for chunk in iter(lambda: self.proc.stdout.read1(65536), b""):
            if self._log_size < LOG_LIMIT:
                self._log.append(chunk[: LOG_LIMIT - self._log_size])
                self._log_size += len(self._log[-1])
                self._log_dropped += len(chunk) - len(self._log[-1])
            else:
                self._log_dropped += len(chunk)

    def log(self) -> str:
        text = b"".join(self._log).decode(errors="replace")
        if self._log_dropped:
            text += f"\n[genlab grade: {self._log_dropped} more bytes of output were not kept]\n"
        return text

    # -- limits -------------------------------------------------------------------------------------
    def _watch(self):
        rss_ceiling = (self.limits.memory_mb * 1.25 + 512) * 2**20 if self.limits.memory_mb else None
        tick = 0
        while self.proc.poll() is None and not self._stopped:
            reason = None
            if time.monotonic() > self.hard_deadline:
                reason = f"killed at the hard time limit ({self.limits.timeout_s + self.limits.grace_s:.0f} s)"
            elif rss_ceiling and tick % 5 == 0 and _tree_rss(self.proc.pid) > rss_ceiling:
                reason = f"killed above the memory limit ({self.limits.memory_mb} MB)"
            if reason:
                self.killed = reason
                self.kill()
                return
            tick += 1
            time.sleep(0.1)

    def kill(self):
        """The whole tree: the process group, every descendant, and orphans handed to us as subreaper."""
        for _ in range(3):
            victims = _descendants(self.proc.pid) | {self.proc.pid}
            victims |= _children(os.getpid()) - self._known_children
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            for pid in victims:
                try:
                    os.kill(pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
            if not victims - {self.proc.pid}:
                break
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            pass
        for pid in _children(os.getpid()) - self._known_children:  # reap orphans we adopted
            try:
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                pass

    # -- requests -----------------------------------------------------------------------------------
    def send(self, message: dict) -> bool:
        try:
            self.proc.stdin.write(self._channel.dumps(message))
            self.proc.stdin.flush()
            return True
        except (OSError, ValueError):
            return False

    def wait_ready(self, seconds: float):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            if self.ready.wait(0.1):
                return self.ready_message
            if self.proc.poll() is not None:
                self.ready.wait(0.5)  # the reader may still hold the last messages
                return self.ready_message
        return self.ready_message

    def request(self, kind: str, deadline: float, **fields):
        """Send one request; its response message, or None when the child ended or the deadline passed."""
        rid = self.next_id
        self.next_id += 1
        self.pending.add(rid)
        if not self.send({"type": kind, "id": rid, **fields}):
            return None
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            try:
                message = self.responses.get(timeout=min(remaining, 1.0))
            except queue.Empty:
                if self.proc.poll() is not None and self.responses.empty():
                    return None
                continue
            if message is _END:
                self.responses.put(_END)
                return None
            if message.get("id") == rid:
                return message

    def bye(self):
        """Ask for the last refusals; then the child exits."""
        message = self.request("bye", time.monotonic() + 10)
        ok = message.get("ok") if message else None
        if type(ok) is dict and type(ok.get("refusals")) is list:
            self.final_refusals = [str(r)[:500] for r in ok["refusals"][:200]]
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            pass

    def stop(self):
        if self._stopped:
            return
        self._stopped = True
        self.kill()
        for t in self._threads:
            t.join(10)


def _children(pid: int) -> set[int]:
    return {p for p, parent in _ppids().items() if parent == pid}


def _ppids() -> dict[int, int]:
    out = {}
    for entry in os.listdir("/proc") if os.path.isdir("/proc") else []:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read()
            out[int(entry)] = int(stat[stat.rindex(b")") + 2 :].split()[1])
        except (OSError, ValueError, IndexError):
            pass
    return out


def _descendants(pid: int) -> set[int]:
    ppids = _ppids()
    found, frontier = set(), {pid}
    while frontier:
        frontier = {p for p, parent in ppids.items() if parent in frontier} - found
        found |= frontier
    return found


def _tree_rss(pid: int) -> int:
    total = 0
    for p in _descendants(pid) | {pid}:
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
                        break
        except OSError:
            pass
    return total


def become_subreaper() -> bool:
    """Orphans of the student's processes come to us (and get killed) instead of to init (Linux only)."""
    try:
        import ctypes

        return ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0) == 0  # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        return False


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
        notes.append("protocol breach (ignored; the verdicts are the grader's own): "
                     + "; ".join(dict.fromkeys(child.breaches))[:1000])  # fmt: skip
        if bundle.legacy:  # there the verdicts came from the student's process: none can be trusted
            cases = None
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
