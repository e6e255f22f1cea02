"""The trusted side of grading: run a lab's tests here, against the student's answers as plain data.

Tests are ordinary functions (``def test_q1_at_zero(q1_generator_loss): ...``). For each parameter the
grader asks the student's process for that name: plain data arrives as builtin types and numpy arrays
(:mod:`genlab.grading.channel`), a function as a :class:`Proxy` that calls it over the channel, a name
that was never set as ``None``. The seed variable comes from the bundle, not from the notebook. Nothing
from the student's process is ever imported or executed here.

A proxy call returns plain data; an exception the student's function raised arrives as an exception
of the same builtin type (``ValueError``, ...), subclass of :class:`StudentError`. ``proxy.grad(*args,
argnums=0)`` is ``jax.grad`` of the student's function at ``args``, computed on the student's side
(tests cannot trace through a proxy).
"""

from __future__ import annotations

import inspect
import signal
import threading
import time
import traceback

from genlab.grading import channel


class StudentError(Exception):
    """An exception raised by the student's code (its type is also the builtin of the same name)."""


class StudentGone(Exception):
    """The student's process ended, or missed the time limit, before it answered."""


class TestTimeout(Exception):
    """A test ran past the tests' time limit."""


_BUILTIN_ERRORS = {
    e.__name__: e
    for e in (ValueError, TypeError, ZeroDivisionError, IndexError, KeyError, AttributeError, NotImplementedError,
              AssertionError, ArithmeticError, LookupError, RuntimeError, FloatingPointError, OverflowError,
              MemoryError, RecursionError, NameError, UnboundLocalError)
}  # fmt: skip
_ERROR_CLASSES: dict[str, type] = {}


def _student_error(kind: str, message: str) -> StudentError:
    base = _BUILTIN_ERRORS.get(kind)
    name = kind if base else "StudentError"
    if name not in _ERROR_CLASSES:
        _ERROR_CLASSES[name] = type(name, (StudentError, base), {}) if base else StudentError
    cls = _ERROR_CLASSES[name]
    message = message.removeprefix(f"{kind}: ")  # the student side may already name the type
    text = message if base else f"{kind}: {message}"
    return cls(f"(raised by your code) {text}"[:2000])


class Proxy:
    """A student's function, called over the channel with plain data in and plain data out."""

    __slots__ = ("_student", "_id", "__name__")

    def __init__(self, student: Student, handle: int, name: str):
        self._student, self._id, self.__name__ = student, handle, name

    def __call__(self, *args, **kwargs):
        return self._student.request("call", fn=self._id, args=self._student.encode(list(args)),
                                     kwargs=self._student.encode(dict(kwargs)))  # fmt: skip

    def grad(self, *args, argnums: int = 0):
        """``jax.grad(f, argnums)(*args)`` of the student's function, computed on the student's side."""
        return self._student.request("grad", fn=self._id, args=self._student.encode(list(args)), argnums=int(argnums))

    def __repr__(self):
        return f"<student function {self.__name__}>"


class Student:
    """The student's process as the tests see it: names to values, functions to proxies."""

    def __init__(self, child, deadline: float):
        self.child, self.deadline = child, deadline

    def encode(self, value):
        def functions(obj):
            if isinstance(obj, Proxy) and obj._student is self:
                return {"t": "function", "id": obj._id, "name": obj.__name__}
            raise TypeError(f"a test cannot send {type(obj).__name__} objects to the student's process")

        return channel.encode(value, functions)

    def decode(self, node):
        return channel.decode(node, lambda i, name: Proxy(self, i, name))

    def request(self, kind: str, **fields):
        message = self.child.request(kind, self.deadline, **fields)
        if message is None:
            if time.monotonic() >= self.deadline:
                raise StudentGone("the student's code did not answer within the time limit")
            raise StudentGone("the student's process ended before it answered")
        if "error" in message:
            error = message["error"]
            if type(error) is not dict:
                raise StudentGone("a malformed answer from the student's process")
            raise _student_error(str(error.get("type"))[:100], str(error.get("message"))[:2000])
        if "ok" not in message:
            raise StudentGone("a malformed answer from the student's process")
        try:
            return self.decode(message["ok"])
        except channel.ChannelError as exc:
            self.child.breaches.append(f"an answer that is not plain data ({exc})")
            raise StudentGone(f"the student's process answered with something that is not plain data: {exc}") from None

    def value(self, name: str):
        return self.request("get", name=name)


class LocalProxy:
    """A proxy for the student's own ``grader.check``: the same plain-data round trip, in one process,
    so that a public test behaves in the notebook exactly as it does in grading."""

    __slots__ = ("_fn", "__name__")

    def __init__(self, fn, name: str):
        self._fn, self.__name__ = fn, name

    def _run(self, call):
        try:
            out = call()
        except Exception as exc:  # noqa: BLE001 - as the grader sees it: the builtin type, the message
            raise _student_error(type(exc).__name__, f"{exc}") from None
        return plain(out)

    def __call__(self, *args, **kwargs):
        args, kwargs = _to_student(list(args)), _to_student(dict(kwargs))
        return self._run(lambda: self._fn(*args, **kwargs))

    def grad(self, *args, argnums: int = 0):
        import jax

        args = _to_student(list(args))
        return self._run(lambda: jax.grad(self._fn, argnums=argnums)(*args))

    def __repr__(self):
        return f"<student function {self.__name__}>"


def _to_student(value):
    def functions(obj):
        if isinstance(obj, LocalProxy):
            return {"t": "function", "id": id(obj._fn), "name": obj.__name__}
        raise TypeError(f"a test cannot send {type(obj).__name__} objects to the student's code")

    table = {}

    def remember(obj):
        table[id(obj._fn)] = obj._fn
        return functions(obj)

    node = channel.encode(value, remember)
    return channel.decode(node, lambda i, name: table[i], channel.rebuild_record, channel.student_array)


def plain(value):
    """``value`` as the grader's tests see it: plain data, functions as (local) proxies."""
    table = {}

    def functions(obj):
        table[id(obj)] = obj
        return {"t": "function", "id": id(obj), "name": str(getattr(obj, "__name__", type(obj).__name__))[:200]}

    node = channel.encode(value, functions)
    return channel.decode(node, lambda i, name: LocalProxy(table[i], name))


class PlainView:
    """A notebook's namespace as the grader's tests see it (for otter's ``test_case.call_func``)."""

    def __init__(self, namespace: dict):
        self.namespace = namespace

    def get(self, name, default=None):
        return plain(self.namespace[name]) if name in self.namespace else default

    def __getitem__(self, name):
        return plain(self.namespace[name])

    def __contains__(self, name):
        return name in self.namespace


def _params(test_func) -> list[str]:
    return list(inspect.signature(test_func).parameters)


def run_tests(bundle, student: Student, settings: dict) -> dict[str, list[dict]]:
    """One outcome per test case of every question: ``{"name", "passed", "message"}``."""
    outcomes = {}
    for question, test_file in bundle.test_files().items():
        cases = []
        for tc in test_file.test_cases:
            remaining = student.deadline - time.monotonic()
            if remaining <= 0:
                cases.append({"name": tc.name, "passed": False, "message": "not run: time limit reached"})
                continue
            passed, message = True, "passed"
            try:
                with _alarm(remaining):
                    kwargs = {}
                    for p in _params(tc.body.test_func):
                        if p == "env":
                            raise TypeError("a test in genlab's format cannot take `env` (the student's namespace)")
                        kwargs[p] = settings[p] if p in settings else student.value(p)
                    tc.body.test_func(**kwargs)
            except BaseException as exc:  # noqa: BLE001 - a test may fail with anything
                if isinstance(exc, KeyboardInterrupt):
                    raise
                passed = False
                message = _error_message(test_file, tc.body.test_func, exc)
            cases.append({"name": tc.name, "passed": passed, "message": message})
        outcomes[question] = cases
    return outcomes


def _error_message(test_file, test_func, exc: BaseException) -> str:
    """otter's message shape (``Error at line N in test q1:`` + that line + ``Type: message``), with the line
    found in the test function's own frame (otter counts frames from where it calls the test, not from here)."""
    code = getattr(test_func, "__code__", None)
    lines = [n for frame, n in traceback.walk_tb(exc.__traceback__) if frame.f_code is code]
    head = ""
    if lines and 0 < lines[-1] <= len(test_file.source_lines):
        head = f"Error at line {lines[-1]} in test {test_file.name}:\n  {test_file.source_lines[lines[-1] - 1].strip()}\n"
    return f"{head}{type(exc).__name__}: {str(exc).strip(chr(39))}"


class _alarm:
    """SIGALRM after ``seconds`` (main thread only): a trusted test that computes too long fails."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.active = threading.current_thread() is threading.main_thread()

    def __enter__(self):
        if self.active:
            def on_alarm(signum, frame):
                raise TestTimeout("the test ran past the time limit")

            self.previous = signal.signal(signal.SIGALRM, on_alarm)
            signal.setitimer(signal.ITIMER_REAL, max(self.seconds, 0.01))
        return self

    def __exit__(self, *exc):
        if self.active:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, self.previous)
        return False
