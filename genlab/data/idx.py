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


def idx_shape(path: str | Path) -> tuple[int, ...]:
    """The array shape written in an IDX file's header, without reading the data (cheap, even for ``.gz``)."""
    path = Path(path)
    with _open(path, "rb") as f:
        magic = f.read(4)
        if len(magic) < 4 or magic[0] != 0 or magic[1] != 0 or magic[2] not in _DTYPES:
            raise IDXFormatError(f"{path}: bad IDX magic number {magic.hex()!r}; download the file again")
        return tuple(int(s) for s in np.frombuffer(f.read(4 * magic[3]), ">u4"))
