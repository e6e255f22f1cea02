"""OS-level isolation of the student's process: what this machine allows, and the command that applies it.

With ``unshare`` (util-linux) and mount rights (root, or an unprivileged user namespace) the student's
process gets:

- ``mount``: a private mount namespace; every mount read-only; a private tmpfs on ``/tmp`` (its work
  folder ``/tmp/work``, nothing else) and on ``/dev/shm``; the autograder bundle, the submissions and
  the output folder covered by empty read-only tmpfs (not visible at all);
- ``pid``: its own PID namespace with a fresh ``/proc``: it sees no other process, and when it ends
  every process it started ends with it (``setsid`` or not);
- ``net``: a network namespace without interfaces (no network); ``ipc`` and ``uts`` namespaces;
- ``user``: it runs as ``nobody`` (setpriv, no new privileges) when the grader runs as root.

:func:`probe` tries each mechanism once per batch (a trivial run through the real command) and says
which are active; the grader records them for every submission and prints them. What is missing is
said, never skipped silently; ``--require-isolation`` refuses to grade without all of them.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import shutil
import subprocess
import sys
from pathlib import Path

MECHANISMS = ("mount", "pid", "net", "user")
NOBODY = 65534

# Runs as (namespace-)root inside the new namespaces, then execs the student's process.
# $1: the matplotlib cache whose font list is copied to /tmp/mpl (matplotlib wants its config folder writable:
# a read-only one makes it build a fresh cache, shelling out to fc-list, which the audit hook refuses);
# $2: "1" to drop to nobody; then the paths under /tmp to keep visible (read-only) in the private /tmp, "--", the
# paths to hide, "--", the command.
_JAIL = r"""
set -e
mpl="$1"; drop="$2"; shift 2
keep=""
while [ "$1" != "--" ]; do keep="$keep
$1"; shift; done
shift
hide=""
while [ "$1" != "--" ]; do hide="$hide
$1"; shift; done
shift
mount --make-rprivate /
for mp in $(awk '{print $5}' /proc/self/mountinfo | sort -u); do
  case "$mp" in /proc|/proc/*|/sys|/sys/*|/dev|/dev/pts|/dev/pts/*) continue;; esac
  mount -o remount,bind,ro "$mp" 2>/dev/null || { echo "genlab-jail: cannot make $mp read-only" >&2; exit 97; }
done
mount -t tmpfs -o mode=1777,size=64m,nosuid,nodev tmpfs /dev/shm
old=/dev/shm/.genlab-old-tmp
if [ -n "$keep" ]; then mkdir "$old"; mount --bind /tmp "$old"; fi
mount -t tmpfs -o mode=1777,size=2g,nosuid,nodev tmpfs /tmp
echo "$keep" | while IFS= read -r p; do
  [ -n "$p" ] || continue
  mkdir -p "$p"; mount --bind "$old${p#/tmp}" "$p"; mount -o remount,bind,ro "$p"
done
if [ -n "$keep" ]; then umount -l "$old"; rmdir "$old"; fi
mount -t proc -o nosuid,nodev,noexec proc /proc
echo "$hide" | while IFS= read -r p; do
  [ -n "$p" ] || continue
  if [ -d "$p" ]; then mount -t tmpfs -o ro,size=4k,mode=000 tmpfs "$p"
  elif [ -e "$p" ]; then mount --bind /dev/null "$p"; fi
done
mkdir -p /tmp/work /tmp/mpl
if [ -n "$mpl" ] && [ -d "$mpl" ]; then cp "$mpl"/fontlist-*.json /tmp/mpl/ 2>/dev/null || true; fi
if [ "$drop" = 1 ]; then
  chown -R 65534:65534 /tmp/work /tmp/mpl
  exec setpriv --reuid=65534 --regid=65534 --clear-groups --no-new-privs -- "$@"
fi
exec "$@"
"""


@dataclasses.dataclass(frozen=True)
class Isolation:
    """Which mechanisms a run gets; ``missing`` says why each absent one is absent."""

    active: tuple[str, ...]
    missing: dict[str, str]

    @property
    def full(self) -> bool:
        return set(self.active) == set(MECHANISMS)

    def describe(self) -> str:
        """One line for the grades file and the output: ``mount ro+tmpfs, pid ns, net ns, user nobody``."""
        names = {"mount": "mount ns (read-only root, private /tmp, bundle and grades hidden)", "pid": "pid ns",
                 "net": "net ns (no network)", "user": "user nobody"}  # fmt: skip
        parts = [names[m] for m in MECHANISMS if m in self.active]
        parts += [f"NO {m} ({self.missing[m]})" for m in MECHANISMS if m in self.missing]
        return "; ".join(parts) + "; rlimits + watchdog"

    def command(self, argv: list[str], hide: list[str], mpl: str) -> list[str]:
        """The command that runs ``argv`` under these mechanisms (``argv`` itself when none is active)."""
        if "mount" not in self.active:
            return list(argv)
        flags = ["--mount", "--ipc", "--uts", "--fork", "--kill-child"]
        if "pid" in self.active:
            flags.append("--pid")
        if "net" in self.active:
            flags.append("--net")
        if os.geteuid() != 0:
            flags += ["--user", "--map-root-user"]
        drop = "1" if "user" in self.active else "0"
        return ["unshare", *flags, "--", "sh", "-c", _JAIL, "genlab-jail", mpl, drop, *kept_under_tmp(), "--",
                *hide, "--", *argv]


def kept_under_tmp() -> list[str]:
    """What the student's Python needs that the private /tmp would cover: the interpreter's prefixes and the folder
    genlab is imported from, where they lie under /tmp (a checkout cloned to /tmp, a venv there). The jail shows
    them read-only at their paths; nothing else of the machine's /tmp."""
    import genlab

    paths = {sys.prefix, sys.base_prefix, os.path.dirname(os.path.dirname(os.path.realpath(sys.executable))),
             str(Path(genlab.__file__).resolve().parent.parent)}
    under = sorted({os.path.realpath(p) for p in paths if os.path.realpath(p).startswith("/tmp/")})
    return [p for p in under if not any(p.startswith(q + "/") for q in under)]


def _try(isolation: Isolation, mpl: str) -> tuple[bool, str]:
    code = "import os, genlab; assert os.access('/tmp/work', os.W_OK); print('genlab-probe-ok', os.getuid())"
    argv = [sys.executable, "-c", code]
    try:
        done = subprocess.run(isolation.command(argv, [], mpl), capture_output=True, text=True, timeout=120,
                              cwd="/", env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")})  # fmt: skip
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, str(exc)[:200]
    ok = done.returncode == 0 and "genlab-probe-ok" in done.stdout
    return ok, (done.stderr.strip().splitlines() or [f"exit code {done.returncode}"])[-1][:200]


@functools.lru_cache(maxsize=None)
def probe(mpl: str = "") -> Isolation:
    """The strongest set of mechanisms that works here (cached per process)."""
    if sys.platform != "linux":
        return Isolation((), {m: f"not Linux ({sys.platform})" for m in MECHANISMS})
    if shutil.which("unshare") is None or shutil.which("mount") is None:
        return Isolation((), {m: "unshare/mount not installed" for m in MECHANISMS})
    missing: dict[str, str] = {}
    want = list(MECHANISMS)
    if os.geteuid() != 0:
        want.remove("user")
        missing["user"] = "the grader does not run as root, so it cannot switch to nobody"
    elif shutil.which("setpriv") is None:
        want.remove("user")
        missing["user"] = "setpriv not installed"
    while want:
        ok, why = _try(Isolation(tuple(want), {}), mpl)
        if ok:
            return Isolation(tuple(want), missing)
        if "mount" not in want:
            break
        # drop the weakest extra first: user, then net, then pid; without mount nothing is left
        drop = next((m for m in ("user", "net", "pid") if m in want), "mount")
        missing[drop] = f"refused here: {why}"
        want.remove(drop)
        if drop == "mount":
            break
    for m in MECHANISMS:
        if m not in missing:
            missing[m] = "unshare refused the mount namespace here"
    return Isolation((), missing)
