"""Guards inside the student's process: an audit hook, and snapshots of trusted modules.

They are conveniences, not the defence: the verdicts are computed in the grader's process
(:mod:`genlab.grading.verdict`) and the student's process is isolated by the operating system
(:mod:`genlab.grading.isolation`). Here they keep the student side's own serving code working and
make refusals visible in the feedback.

The audit hook (PEP 578) is installed before any student code runs and can never be removed:

- writes, deletions, renames and permission changes are allowed only inside the submission's
  work folder (``/dev/null`` too);
- reading or listing the denied folders (the autograder bundle, the other submissions, the
  output folder) fails;
- starting processes, signalling other processes, opening sockets, adding audit hooks,
  tracing, and walking the garbage collector's object lists fail.

Every refusal raises ``PermissionError`` in the student's cell (and is recorded), so the cell
fails like any other error and grading carries on.

``Snapshot`` records the attributes of trusted modules (numpy, jax.numpy, math, builtins,
otter's test classes, genlab) and of the classes they define; ``restore()`` puts them back
after the cells, so the code that answers the grader's requests (and, for labs still in the
in-process format, otter's tests) works even when a cell monkeypatched ``np.asarray`` or
``builtins.float``. Limits: code reached through ``ctypes``, ``dir_fd`` and C extensions bypasses
audit hooks, and private modules (``numpy.testing._private``) are not snapshotted.
"""

from __future__ import annotations

import os
import sys
import types

TRUSTED_PREFIXES: tuple[str, ...] = (
    "builtins", "math", "cmath", "operator", "functools", "itertools", "numbers", "inspect",
    "numpy", "jax", "jaxlib", "flax", "optax", "otter.test_files", "genlab",
    "json", "os", "re", "signal", "time", "random", "statistics",
)  # fmt: skip

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
_PATH_WRITE_EVENTS = {
    "os.remove": (0,), "os.rmdir": (0,), "os.rename": (0, 1), "os.link": (0, 1),
    "os.symlink": (1,), "os.truncate": (0,), "os.chmod": (0,), "os.chown": (0,),
    "os.mkdir": (0,), "os.utime": (0,), "os.chflags": (0,), "os.lchflags": (0,),
    "os.mkfifo": (0,), "os.mknod": (0,), "shutil.rmtree": (0,), "shutil.move": (0, 1),
    "shutil.copyfile": (1,), "shutil.copymode": (1,), "shutil.copystat": (1,),
    "shutil.copytree": (1,),
}  # fmt: skip
_PATH_READ_EVENTS = {"os.listdir": 0, "os.scandir": 0, "glob.glob": 0, "os.walk": 0}
_FORBIDDEN = {
    "subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork",
    "os.forkpty", "pty.spawn", "socket.connect", "socket.bind", "sys.addaudithook",
    "sys.settrace", "sys.setprofile", "gc.get_objects", "gc.get_referrers", "gc.get_referents",
    "sys._current_frames",
}  # fmt: skip
_SIGNAL_EVENTS = {"os.kill", "os.killpg", "signal.pthread_kill"}


def install_audit_hook(workdir: str, deny: list[str], refusals: list[str]) -> None:
    """Install the hook; ``refusals`` collects a line for every refused operation."""
    workdir = os.path.realpath(workdir)
    deny = [os.path.realpath(d) for d in deny]
    allowed_writes = (workdir, "/dev/null")
    own_pid = os.getpid()
    realpath, fspath, getcwd, join = os.path.realpath, os.fspath, os.getcwd, os.path.join
    busy = [False]

    def norm(path):
        if isinstance(path, int) or path is None:
            return None
        try:
            path = fspath(path)
            if isinstance(path, bytes):
                path = path.decode(errors="replace")
            return realpath(join(getcwd(), path))
        except Exception:
            return None

    def inside(path, roots):
        return any(path == r or path.startswith(r.rstrip("/") + "/") for r in roots)

    def refuse(what):
        refusals.append(what)
        raise PermissionError(f"grading sandbox: {what} is not allowed while grading")

    def check_read(path):
        p = norm(path)
        if p is not None and inside(p, deny):
            refuse(f"reading {p}")

    def check_write(path):
        p = norm(path)
        if p is not None and not inside(p, allowed_writes):
            refuse(f"changing {p}")

    def hook(event, args):
        if busy[0]:
            return
        if event == "open":
            busy[0] = True
            try:
                path, mode, flags = args
                check_read(path)
                writing = (mode is not None and any(c in mode for c in "wax+")) or (
                    mode is None and isinstance(flags, int) and flags & _WRITE_FLAGS
                )
                if writing:
                    check_write(path)
            finally:
                busy[0] = False
        elif event in _PATH_WRITE_EVENTS:
            if event == "os.mkdir" and os.path.lexists(args[0]):
                return  # fails with FileExistsError anyway (libraries do this for their cache folders)
            busy[0] = True
            try:
                for i in _PATH_WRITE_EVENTS[event]:
                    if i < len(args):
                        check_write(args[i])
            finally:
                busy[0] = False
        elif event in _PATH_READ_EVENTS:
            busy[0] = True
            try:
                check_read(args[_PATH_READ_EVENTS[event]])
            finally:
                busy[0] = False
        elif event in _FORBIDDEN:
            if event == "sys.addaudithook":
                refusals.append("adding an audit hook")
                raise RuntimeError("grading sandbox: adding audit hooks is not allowed")
            refuse(event)
        elif event in _SIGNAL_EVENTS:
            if event == "signal.pthread_kill" or args[0] != own_pid:
                refuse(f"{event}{tuple(args)}")

    sys.addaudithook(hook)


def _trusted(name: str) -> bool:
    """Public modules under a trusted prefix (private ones like ``jax._src`` keep their state)."""
    if any(part.startswith("_") for part in name.split(".")):
        return False
    return any(name == p or name.startswith(p + ".") for p in TRUSTED_PREFIXES)


class Snapshot:
    """Attributes of trusted modules, their classes, and ``sys.modules``/import machinery."""

    def __init__(self, also: tuple[str, ...] = ()) -> None:
        """``also``: extra module names to guard (the harness guards itself, ``__main__``)."""
        self.modules = {
            n: m for n, m in list(sys.modules.items()) if m is not None and (_trusted(n) or n in also)
        }
        self.module_dicts = {n: dict(vars(m)) for n, m in self.modules.items()}
        self.class_dicts: dict[type, dict] = {}
        for name, module in self.modules.items():
            for value in list(vars(module).values()):
                if isinstance(value, type) and _trusted(getattr(value, "__module__", "") or ""):
                    self.class_dicts.setdefault(value, dict(vars(value)))
        self.meta_path = list(sys.meta_path)
        self.path_hooks = list(sys.path_hooks)

    def restore(self) -> list[str]:
        """Put everything back; return the names that had been changed."""
        changed: list[str] = []
        for name, module in self.modules.items():
            if sys.modules.get(name) is not module:
                changed.append(f"sys.modules[{name!r}]")
                sys.modules[name] = module
        for name, saved in self.module_dicts.items():
            changed += _restore_namespace(vars(self.modules[name]), saved, name)
        for cls, saved in self.class_dicts.items():
            changed += _restore_class(cls, saved)
        sys.meta_path[:] = self.meta_path
        sys.path_hooks[:] = self.path_hooks
        return changed


def _restore_namespace(current: dict, saved: dict, label: str) -> list[str]:
    changed = []
    for key in [k for k in current if k not in saved]:
        if isinstance(current[key], types.ModuleType):  # a submodule imported later: harmless
            continue
        changed.append(f"{label}.{key}")
        del current[key]
    for key, value in saved.items():
        if current.get(key, _MISSING) is not value:
            changed.append(f"{label}.{key}")
            current[key] = value
    return changed


def _restore_class(cls: type, saved: dict) -> list[str]:
    changed = []
    current = vars(cls)
    for key in [k for k in current if k not in saved]:
        try:
            delattr(cls, key)
            changed.append(f"{cls.__module__}.{cls.__qualname__}.{key}")
        except (TypeError, AttributeError):
            pass
    for key, value in saved.items():
        if current.get(key, _MISSING) is not value:
            try:
                setattr(cls, key, value)
                changed.append(f"{cls.__module__}.{cls.__qualname__}.{key}")
            except (TypeError, AttributeError):
                pass
    return changed


_MISSING = object()
