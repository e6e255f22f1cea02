"""The IDX file format of MNIST and Fashion-MNIST (LeCun et al.), plain or gzip-compressed.

An IDX file is a 4-byte magic number ``0x00 0x00 <dtype code> <ndim>``, then ``ndim`` big-endian
uint32 sizes, then the array in C order, big-endian. MNIST's images are ``uint8 [N, 28, 28]``
(code ``0x08``, ndim 3) and its labels ``uint8 [N]`` (code ``0x08``, ndim 1).
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

# IDX dtype code -> big-endian NumPy dtype.
_DTYPES: dict[int, str] = {0x08: "u1", 0x09: "i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_CODES: dict[str, int] = {np.dtype(v).str.lstrip("<>|="): k for k, v in _DTYPES.items()}


class IDXFormatError(ValueError):
    """A file that is not a well-formed IDX file."""


def _open(path: Path, mode: str):
    return gzip.open(path, mode) if path.suffix == ".gz" else open(path, mode)


def read_idx(path: str | Path) -> np.ndarray:
    """Read an IDX file (``.gz`` or not) into a native-endian array, e.g. ``uint8 [N, 28, 28]``."""
    path = Path(path)
    try:
        with _open(path, "rb") as f:
            raw = f.read()
    except gzip.BadGzipFile as err:
        raise IDXFormatError(f"{path}: not a gzip file ({err}); rename it without .gz if it is plain IDX") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _DTYPES:
        raise IDXFormatError(
            f"{path}: bad IDX magic number {raw[:4].hex()!r}; expected 0000 08 03 (images) or 0000 08 01 (labels). "
            "Is it a truncated download or an HTML error page? Download the file again."
        )
    dtype, ndim = np.dtype(_DTYPES[raw[2]]), raw[3]
    header = 4 + 4 * ndim
    shape = tuple(int(s) for s in np.frombuffer(raw, ">u4", count=ndim, offset=4))
    expected = header + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(raw) != expected:
        raise IDXFormatError(
            f"{path}: size {len(raw)} bytes does not match its header shape {shape} ({expected} bytes); "
            "the file is truncated or corrupt: download it again."
        )
    data = np.frombuffer(raw, dtype, offset=header).reshape(shape)
    return data.astype(dtype.newbyteorder("="), copy=True)


def write_idx(path: str | Path, array: np.ndarray) -> Path:
    """Write ``array`` as an IDX file (gzip-compressed when ``path`` ends in ``.gz``); returns the path."""
    path = Path(path)
    array = np.asarray(array)
    key = array.dtype.str.lstrip("<>|=")
    if key not in _CODES:
        raise ValueError(f"IDX cannot store dtype {array.dtype}: convert to uint8, int8, int16, int32, float32 or float64")
    big = array.astype(array.dtype.newbyteorder(">"), copy=False)
    header = bytes([0, 0, _CODES[key], array.ndim]) + np.asarray(array.shape, ">u4").tobytes()
    with _open(path, "wb") as f:
        f.write(header + np.ascontiguousarray(big).tobytes())
    return path


def _header(path: Path) -> tuple[np.dtype, tuple[int, ...]]:
    with _open(path, "rb") as f:
        magic = f.read(4)
        if len(magic) < 4 or magic[0] != 0 or magic[1] != 0 or magic[2] not in _DTYPES:
            raise IDXFormatError(f"{path}: bad IDX magic number {magic.hex()!r}; download the file again")
        sizes = f.read(4 * magic[3])
        if len(sizes) < 4 * magic[3]:
            raise IDXFormatError(f"{path}: the header is cut short; download the file again")
        return np.dtype(_DTYPES[magic[2]]), tuple(int(s) for s in np.frombuffer(sizes, ">u4"))


def idx_shape(path: str | Path) -> tuple[int, ...]:
    """The array shape written in an IDX file's header, without reading the data (cheap, even for ``.gz``)."""
    return _header(Path(path))[1]


def idx_problem(path: str | Path) -> str | None:
    """Why the IDX file at ``path`` is unusable (truncated, corrupt, not IDX), or None when it looks whole.

    Cheap, without decompressing: a plain file's size must equal what its header promises; a ``.gz`` file's
    gzip trailer (ISIZE: the uncompressed size mod 2**32) must. A truncated download fails both.
    """
    path = Path(path)
    try:
        dtype, shape = _header(path)
        with open(path, "rb") as f:
            f.seek(0, 2)
            size = f.tell()
            f.seek(max(0, size - 4))
            trailer = int.from_bytes(f.read(4), "little")
    except (OSError, EOFError, IDXFormatError) as err:
        return f"{path.name} is unreadable ({err})"
    expected = 4 + 4 * len(shape) + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if path.suffix == ".gz" and trailer != expected % 2**32:
        return f"{path.name} is truncated or corrupt (its header promises {expected} bytes, the gzip trailer {trailer})"
    if path.suffix != ".gz" and size != expected:
        return f"{path.name} is truncated or corrupt ({size} bytes; its header promises {expected})"
    return None
