"""Apply a function to a big array in chunks: the one way genlab runs a model over a data set."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import numpy as np


def batched_apply(fn: Callable[..., Any], *arrays, chunk: int = 500, pad: bool = False) -> Any:
    """``fn(*[a[i:i+chunk] for a in arrays])`` for every chunk, outputs concatenated on axis 0, as NumPy.

    arrays: leading axis ``N`` each (NumPy or JAX); fn returns an array or a pytree of arrays whose
    leaves lead with the chunk's length. ``pad``: when there are several chunks, pad the last one to
    ``chunk`` rows (zeros) and drop the padding from the output, so ``fn`` compiles for one shape only.
    With ``N == 0`` returns ``fn`` applied to the empty arrays.
    """
    n = len(arrays[0])
    if any(len(a) != n for a in arrays):
        raise ValueError(f"batched_apply: arrays of different lengths {[len(a) for a in arrays]}")
    if n == 0:
        return jax.tree.map(np.asarray, fn(*arrays))
    outs = []
    for start in range(0, n, chunk):
        parts = [np.asarray(a[start : start + chunk]) for a in arrays]
        extra = chunk - len(parts[0]) if (pad and n > chunk) else 0
        if extra:
            parts = [np.concatenate([p, np.zeros((extra, *p.shape[1:]), p.dtype)]) for p in parts]
        out = jax.tree.map(np.asarray, fn(*parts))
        outs.append(jax.tree.map(lambda o: o[: len(o) - extra], out) if extra else out)
    return jax.tree.map(lambda *xs: np.concatenate(xs), *outs)
