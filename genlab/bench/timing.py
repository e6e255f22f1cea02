"""Timing on a shared machine: warm-up, then interleaved repeats and medians; the matmul peak; XLA's FLOP count.

Contenders are timed in interleaved rounds (A, B, A, B, ...: the order alternates every round), so a burst of
load from another process hits both sides alike, and the median of each side is reported. Every function timed
must return only when its work is done (a JAX result is blocked on here; PyTorch on a CPU is synchronous).
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import os
import platform
import statistics
import time
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np


@dataclasses.dataclass(frozen=True)
class Timing:
    """Wall seconds per call: median and minimum over the timed repeats, and every repeat; and the median CPU
    seconds of this process per call (all threads: on a loaded machine it shows the work, not the waiting, though
    threads that spin while waiting for each other count too)."""

    median: float
    min: float
    samples: tuple[float, ...]
    cpu_median: float = float("nan")

    def as_dict(self) -> dict:
        return {"median_s": self.median, "min_s": self.min, "cpu_median_s": self.cpu_median,
                "repeats": len(self.samples)}


def _timed(fn: Callable[[int], object], i: int) -> tuple[float, float]:
    t0, c0 = time.perf_counter(), time.process_time()
    jax.block_until_ready(fn(i))
    return time.perf_counter() - t0, time.process_time() - c0


def interleaved(fns: dict[str, Callable[[int], object]], *, warmup: int, repeats: int) -> dict[str, Timing]:
    """``{name: fn(i)}`` -> ``{name: Timing}``: ``warmup`` untimed calls each (compilation, caches), then
    ``repeats`` rounds with every function called once per round, the order reversed every other round.
    ``i`` counts each function's calls (0, 1, ...), e.g. to fold into a key."""
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    names = list(fns)
    calls = dict.fromkeys(names, 0)
    samples: dict[str, list[tuple[float, float]]] = {n: [] for n in names}

    def call(name: str) -> tuple[float, float]:
        seconds = _timed(fns[name], calls[name])
        calls[name] += 1
        return seconds

    for _ in range(warmup):
        for name in names:
            call(name)
    for r in range(repeats):
        for name in names if r % 2 == 0 else names[::-1]:
            samples[name].append(call(name))
    out = {}
    for n, pairs in samples.items():
        wall = [w for w, _ in pairs]
        out[n] = Timing(statistics.median(wall), min(wall), tuple(wall), statistics.median(c for _, c in pairs))
    return out


def time_one(fn: Callable[[int], object], *, warmup: int, repeats: int) -> Timing:
    return interleaved({"fn": fn}, warmup=warmup, repeats=repeats)["fn"]


@jax.jit
def _matmul(a, b):
    return a @ b


def matmul_peak(n: int, *, warmup: int = 2, repeats: int = 10) -> dict:
    """The machine's measured float32 matmul rate: ``[n, n] @ [n, n]`` (2 n^3 FLOPs) in JAX, best of ``repeats``
    (a peak: the least disturbed call). Returns FLOP/s, seconds and n."""
    ka, kb = jax.random.split(jax.random.key(0))
    a, b = jax.random.normal(ka, (n, n), jnp.float32), jax.random.normal(kb, (n, n), jnp.float32)
    timing = time_one(lambda i: _matmul(a, b), warmup=warmup, repeats=repeats)
    flops = 2.0 * n**3
    return {"n": n, "flops": flops, "best_s": timing.min, "median_s": timing.median,
            "peak_flops_per_s": flops / timing.min, "median_flops_per_s": flops / timing.median}


def xla_flops(jitted, *args) -> float:
    """FLOPs of one call of ``jitted(*args)`` from XLA's cost analysis of the compiled program (a multiply-add
    counts 2). ``jitted``: a ``jax.jit`` or ``nnx.jit`` function."""
    analysis = jitted.lower(*args).compile().cost_analysis()
    if isinstance(analysis, (list, tuple)):  # older JAX: one dict per computation
        analysis = analysis[0]
    if not analysis or "flops" not in analysis:
        raise RuntimeError("XLA's cost analysis gave no 'flops' for this program on this backend")
    return float(analysis["flops"])


def use_all_cores() -> int:
    """Let PyTorch use every core (JAX's CPU backend already does); returns the number of threads."""
    import torch

    n = os.cpu_count() or 1
    torch.set_num_threads(n)
    return n


def machine() -> dict:
    """What the numbers were measured on: cores, load average (1, 5, 15 min), backend and versions."""
    import flax

    info = {"cpu_count": os.cpu_count(), "load_average": [round(v, 2) for v in os.getloadavg()],
            "processor": platform.processor() or platform.machine(), "backend": jax.default_backend(),
            "jax": jax.__version__, "flax": flax.__version__, "numpy": np.__version__,
            "xla_flags": os.environ.get("XLA_FLAGS", "")}
    for name in ("torch", "diffusers", "torchcfm", "torchdiffeq"):
        try:
            info[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            info[name] = None
    return info
