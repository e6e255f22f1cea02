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

# `make test` runs the suite on several workers (pytest-xdist, --dist loadfile): a file's tests stay on one worker,
# so its module fixtures (the lab gate's builds, the grading batch) run once. Wheel builds of the checkout take a
# lock (genlab.grading.install.checkout_lock): setuptools builds in the checkout's own build/ folder.

# The longest files first, so that the workers finish together instead of one running the lab gate alone at the
# end (the rest keep their order).
LONGEST_FIRST = ("test_labs_gate.py", "test_grading_fixtures.py", "test_diffusion_vs_flow.py",
                 "test_latent_diffusion_experiment.py", "test_bench.py", "test_flow_latent.py")


def pytest_collection_modifyitems(items):
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))
