"""Test-session settings: compile fast, compile once.

At tiny sizes almost all of a test's time is XLA compiling, not running (lab 03 at tiny: 85 s cold, 57 s
with the fast-compile flags below, 25 s when its compiled programs come from the cache). Both settings reach
every subprocess too (notebooks in Jupyter kernels, graded submissions, `genlab` CLI runs).

- ``XLA_FLAGS``: skip LLVM's expensive passes and back-end optimisation. Same programs, same numerics
  contract (float32, tolerances in the tests), only slower to *run*, which tiny sizes do not notice.
  ``GENLAB_TEST_FULL_OPT=1`` keeps XLA's defaults.
- a persistent compilation cache shared by the session's processes (a fresh folder per session in the checkout, removed
  at the end, so every CI run starts cold and nothing leaks between runs): the lab gate runs each lab four times
  (graded solution, graded blank, both again in a Jupyter kernel), and the later runs reuse the first one's
  programs. ``JAX_COMPILATION_CACHE_DIR`` set outside wins.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile

FAST_COMPILE = ("--xla_llvm_disable_expensive_passes=true", "--xla_backend_optimization_level=0")

if not os.environ.get("GENLAB_TEST_FULL_OPT"):
    flags = os.environ.get("XLA_FLAGS", "").split()
    os.environ["XLA_FLAGS"] = " ".join(flags + [f for f in FAST_COMPILE if f not in flags])

if "JAX_COMPILATION_CACHE_DIR" not in os.environ:
    # in the checkout, not /tmp: graded notebooks run with a private /tmp, as user nobody, and read the rest
    # of the file system (read-only); they read this cache but cannot write it
    _cache = tempfile.mkdtemp(prefix=".jax-test-cache-", dir=os.path.dirname(os.path.dirname(__file__)))
    os.chmod(_cache, 0o755)
    atexit.register(shutil.rmtree, _cache, ignore_errors=True)
    os.environ["JAX_COMPILATION_CACHE_DIR"] = _cache
    os.environ["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] = "0"
    os.environ["JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES"] = "-1"
