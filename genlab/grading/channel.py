"""The narrow channel between the trusted grader and the student's process: plain data, no pickle.

Both sides speak JSON lines. A value crosses as one of these forms, nothing else:

==========================  ==============================================================
Python value                on the wire
==========================  ==============================================================
None, bool, int, float, str  itself (ints beyond 64 bit as ``{"t": "int", "v": "123..."}``)
list                         a JSON list of values
tuple                        ``{"t": "tuple", "v": [...]}``
dict                         ``{"t": "dict", "v": [[key, value], ...]}`` (keys: plain, hashable)
numpy / JAX array, scalar    ``{"t": "array", "dtype": "<f4", "shape": [2500, 2], "data": base64,
                             "jax": bool, "scalar": bool}``: raw little-endian bytes of an allowed dtype
dataclass, namedtuple        ``{"t": "record", "type": "History", "module": "...", "fields": {...}}``
a function (or class)        ``{"t": "function", "id": 3, "name": "q1_generator_loss"}``: a handle the
                             student side keeps; the trusted side gets a :class:`Proxy`
anything else                ``{"t": "opaque", "type": "Module"}``
``...``                      ``{"t": "ellipsis"}``
==========================  ==============================================================

:func:`decode` checks every node's exact type and form and builds only builtin types, numpy arrays of
the allowed dtypes, :class:`Record`, :class:`Opaque` and proxies: a ``str`` subclass whose ``__eq__``
is always true arrives as a plain ``str`` of the same characters. The student side encodes with the
same :func:`encode`; it is untrusted, so the trusted side trusts nothing it sends but its shape.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import math

import numpy as np

MAX_MESSAGE = 64 * 2**20  # bytes in one message; a bigger one is a protocol breach
MAX_DEPTH = 32
MAX_NODES = 1_000_000

# dtype strings (little-endian) that may cross; everything else is refused
ALLOWED_DTYPES = frozenset(
    ["|b1", "|i1", "|u1", "<i2", "<u2", "<i4", "<u4", "<i8", "<u8", "<f2", "<f4", "<f8", "<c8", "<c16"]
)


class ChannelError(Exception):
    """A message that is not plain data in the channel's format."""


@dataclasses.dataclass(frozen=True)
class Record:
    """A dataclass or namedtuple from the student side: its type's name and its fields, read-only.

    ``history.steps`` and ``history["steps"]`` both work.
    """

    type: str
    fields: dict

    def __getattr__(self, name):
        fields = object.__getattribute__(self, "fields")
        if name in fields:
            return fields[name]
        raise AttributeError(f"{object.__getattribute__(self, 'type')} has no field {name!r}")

    def __getitem__(self, name):
        return self.fields[name]

    def __repr__(self):
        return f"{self.type}({', '.join(f'{k}=...' for k in self.fields)})"


@dataclasses.dataclass(frozen=True)
class Opaque:
    """A student value that is not plain data (a model, a generator, ...): only its type's name crosses."""

    type: str

    def __repr__(self):
        return f"<{self.type} object (not plain data: only its type reaches the grader)>"


def _is_jax_array(value) -> bool:
    module = type(value).__module__ or ""
    return (module.startswith("jax") or module.startswith("jaxlib")) and hasattr(value, "__array__")


def encode(value, functions=None, _depth=0, _count=None):
    """``value`` -> JSON-able plain data. ``functions(obj) -> dict`` encodes callables (None: opaque)."""
    count = _count if _count is not None else [0]
    count[0] += 1
    if count[0] > MAX_NODES or _depth > MAX_DEPTH:
        raise ChannelError("the value is too big or too deeply nested to send")
    t = type(value)
    if value is None or t is bool or t is str:
        return value
    if t is int:
        return value if -(2**63) <= value < 2**63 else {"t": "int", "v": str(value)}
    if t is float:
        return value
    if value is Ellipsis:
        return {"t": "ellipsis"}
    if isinstance(value, (str, bool, int, float)) and not isinstance(value, np.generic):  # subclasses: the content
        base = next(b for b in (bool, str, int, float) if isinstance(value, b))
        return encode({str: str.__str__, int: int.__int__, float: float.__float__, bool: bool}[base](value),
                      functions, _depth, count)  # fmt: skip
    if isinstance(value, (np.ndarray, np.generic)) or _is_jax_array(value):
        return _encode_array(value)
    if isinstance(value, tuple) and hasattr(value, "_fields"):  # namedtuple
        fields = {f: encode(getattr(value, f), functions, _depth + 1, count) for f in value._fields}
        return {"t": "record", "type": t.__name__, "module": t.__module__, "fields": fields}
    if isinstance(value, list):
        return [encode(v, functions, _depth + 1, count) for v in value]
    if isinstance(value, tuple):
        return {"t": "tuple", "v": [encode(v, functions, _depth + 1, count) for v in value]}
    if isinstance(value, dict):
        return {"t": "dict", "v": [[encode(k, functions, _depth + 1, count), encode(v, functions, _depth + 1, count)]
                                   for k, v in value.items()]}  # fmt: skip
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {f.name: encode(getattr(value, f.name), functions, _depth + 1, count)
                  for f in dataclasses.fields(value)}  # fmt: skip
        return {"t": "record", "type": t.__name__, "module": t.__module__, "fields": fields}
    if callable(value) and functions is not None:
        return functions(value)
    return {"t": "opaque", "type": t.__name__}


def _encode_array(value) -> dict:
    scalar = isinstance(value, np.generic)
    is_jax = _is_jax_array(value)
    array = np.asarray(value)
    if array.dtype.str not in ALLOWED_DTYPES:
        swapped = array.dtype.newbyteorder("<")
        if swapped.str in ALLOWED_DTYPES:
            array = array.astype(swapped)
        elif array.dtype.kind == "f":  # bfloat16 and friends: as float32
            array = array.astype("<f4")
        else:
            return {"t": "opaque", "type": f"array of {array.dtype}"}
    data = np.ascontiguousarray(array).tobytes()
    if len(data) > MAX_MESSAGE:
        raise ChannelError(f"an array of {len(data)} bytes is too big to send")
    return {"t": "array", "dtype": array.dtype.str, "shape": list(array.shape),
            "data": base64.b64encode(data).decode("ascii"), "jax": is_jax, "scalar": scalar}  # fmt: skip


def _expect(node: dict, keys: set) -> None:
    if set(node) != keys:
        raise ChannelError(f"a {node.get('t')!r} value with the keys {sorted(node)}, expected {sorted(keys)}")


def decode(node, functions, records=None, arrays=None, _depth=0, _count=None):
    """Plain data -> Python values, checking exact types. ``functions(id, name)`` makes a function value;
    ``records(module, type, fields)`` a record (default :class:`Record`); ``arrays(ndarray, is_jax)`` an array."""
    count = _count if _count is not None else [0]
    count[0] += 1
    if _depth > MAX_DEPTH or count[0] > MAX_NODES:
        raise ChannelError("a value nested too deeply or with too many parts")
    return _decode(node, functions, records, arrays, _depth, count)


def _decode(node, functions, records, arrays, _depth, count):
    t = type(node)
    if node is None or t is bool or t is int or t is str:
        return node
    if t is float:
        return node
    if t is list:
        return [decode(v, functions, records, arrays, _depth + 1, count) for v in node]
    if t is not dict:
        raise ChannelError(f"a {t.__name__} where plain data was expected")
    tag = node.get("t")
    if type(tag) is not str:
        raise ChannelError("a value without its form")
    if tag == "ellipsis":
        _expect(node, {"t"})
        return Ellipsis
    if tag == "int":
        _expect(node, {"t", "v"})
        if type(node["v"]) is not str or len(node["v"]) > 4000:
            raise ChannelError("a malformed big int")
        return int(node["v"])
    if tag == "tuple":
        _expect(node, {"t", "v"})
        if type(node["v"]) is not list:
            raise ChannelError("a malformed tuple")
        return tuple(decode(v, functions, records, arrays, _depth + 1, count) for v in node["v"])
    if tag == "dict":
        _expect(node, {"t", "v"})
        if type(node["v"]) is not list:
            raise ChannelError("a malformed dict")
        out = {}
        for pair in node["v"]:
            if type(pair) is not list or len(pair) != 2:
                raise ChannelError("a malformed dict entry")
            key = decode(pair[0], functions, records, arrays, _depth + 1, count)
            if type(key) not in (str, int, float, bool, tuple, type(None)):
                raise ChannelError(f"a dict key of type {type(key).__name__}")
            out[key] = decode(pair[1], functions, records, arrays, _depth + 1, count)
        return out
    if tag == "array":
        return _decode_array(node, arrays)
    if tag == "record":
        _expect(node, {"t", "type", "module", "fields"})
        if type(node["type"]) is not str or type(node["module"]) is not str or type(node["fields"]) is not dict:
            raise ChannelError("a malformed record")
        fields = {}
        for k, v in node["fields"].items():
            fields[str(k)] = decode(v, functions, records, arrays, _depth + 1, count)
        if records is not None:
            return records(node["module"], node["type"], fields)
        return Record(node["type"][:200], fields)
    if tag == "function":
        _expect(node, {"t", "id", "name"})
        if type(node["id"]) is not int or type(node["name"]) is not str:
            raise ChannelError("a malformed function handle")
        return functions(node["id"], node["name"][:200])
    if tag == "opaque":
        _expect(node, {"t", "type"})
        if type(node["type"]) is not str:
            raise ChannelError("a malformed opaque value")
        return Opaque(node["type"][:200])
    raise ChannelError(f"an unknown form {tag[:40]!r}")


def _decode_array(node, arrays):
    _expect(node, {"t", "dtype", "shape", "data", "jax", "scalar"})
    dtype, shape, data = node["dtype"], node["shape"], node["data"]
    if type(dtype) is not str or dtype not in ALLOWED_DTYPES:
        raise ChannelError(f"an array of a dtype that may not cross: {str(dtype)[:40]!r}")
    if type(shape) is not list or not all(type(s) is int and s >= 0 for s in shape) or len(shape) > 32:
        raise ChannelError("an array with a malformed shape")
    if type(data) is not str or type(node["jax"]) is not bool or type(node["scalar"]) is not bool:
        raise ChannelError("a malformed array")
    raw = base64.b64decode(data.encode("ascii"), validate=True)
    dt = np.dtype(dtype)
    if len(raw) != math.prod(shape) * dt.itemsize:
        raise ChannelError("an array whose bytes do not match its shape")
    array = np.frombuffer(raw, dtype=dt).reshape(shape).copy()
    if node["scalar"]:
        if shape:
            raise ChannelError("a scalar with a shape")
        return array[()]
    return arrays(array, node["jax"]) if arrays is not None else array


def rebuild_record(module: str, type_name: str, fields: dict):
    """The student side's view of a record the grader sends: genlab's own classes come back as themselves
    (a ``History``), others as namespaces with the same attributes."""
    import importlib
    import types

    if module.split(".")[0] == "genlab":
        try:
            return getattr(importlib.import_module(module), type_name)(**fields)
        except Exception:  # noqa: BLE001 - fall back to attribute access
            pass
    return types.SimpleNamespace(**fields)


def student_array(array, is_jax: bool):
    """The student side's view of an array the grader sends: a JAX array where the grader sent one."""
    if is_jax:
        import jax.numpy as jnp

        return jnp.asarray(array)
    return array


def dumps(message: dict) -> bytes:
    return (json.dumps(message, allow_nan=True, separators=(",", ":")) + "\n").encode()


def loads(line: bytes) -> dict:
    """One message: a JSON object (NaN and infinities allowed); anything else is a ChannelError."""
    if len(line) > MAX_MESSAGE:
        raise ChannelError("a message beyond the size limit")
    try:
        message = json.loads(line)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise ChannelError(f"a malformed message ({type(exc).__name__})") from None
    if type(message) is not dict or type(message.get("type")) is not str:
        raise ChannelError("a message that is not an object with a type")
    return message


class LineReader:
    """Read newline-ended messages from a file descriptor without ever holding more than MAX_MESSAGE."""

    def __init__(self, fd: int, limit: int = MAX_MESSAGE):
        self.fd, self.limit, self.buffer, self.eof = fd, limit, bytearray(), False

    def __iter__(self):
        import os

        while True:
            at = self.buffer.find(b"\n")
            if at >= 0:
                line = bytes(self.buffer[: at + 1])
                del self.buffer[: at + 1]
                yield line
                continue
            if len(self.buffer) > self.limit:
                raise ChannelError("a message beyond the size limit")
            chunk = os.read(self.fd, 1 << 20)
            if not chunk:
                self.eof = True
                return
            self.buffer += chunk
