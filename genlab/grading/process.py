"""The student's process as the grader drives it: messages, requests, output, limits, and its end.

:class:`StudentProcess` starts :mod:`genlab.grading.harness` under the isolation command, reads its
messages (:mod:`genlab.grading.channel`) on a pipe it alone writes, keeps all of its output for the log,
watches the time and the memory of its whole process tree, and kills every process of the tree at the
end (the process group, each descendant, and orphans handed to the grader as their subreaper).
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time

LOG_LIMIT = 8 * 2**20  # bytes of a submission's output kept in its log
_END = object()


class StudentProcess:
    """The student's process: its messages, its output, its limits, its end."""

    def __init__(self, jail, mpl, workdir, env, hide, limits):
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
            env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
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
