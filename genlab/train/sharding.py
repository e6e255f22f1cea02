"""Data parallelism with ``jax.sharding``: one mesh axis ``"data"`` over all local devices (no pmap).

Batches are split along their first axis across devices; model and optimizer state are replicated.
``jax.jit`` (and ``nnx.jit``) then compile one data-parallel program (GSPMD). Multi-host runs call
``jax.distributed.initialize()`` first (see :func:`initialize_distributed`); the same code then spans
every process's devices.

Test on CPU with ``XLA_FLAGS=--xla_force_host_platform_device_count=4`` (set before importing jax).
"""

from __future__ import annotations

import os

import jax
import numpy as np
from flax import nnx
from jax.sharding import Mesh, NamedSharding, PartitionSpec

DATA_AXIS = "data"


def initialize_distributed() -> None:
    """Join a multi-host run when the launcher set ``JAX_COORDINATOR_ADDRESS`` (no-op otherwise)."""
    if os.environ.get("JAX_COORDINATOR_ADDRESS") and jax.process_count() == 1:
        jax.distributed.initialize()


def data_mesh(devices: list | None = None) -> Mesh:
    """A 1-D mesh named ``"data"`` over ``devices`` (default: all devices)."""
    devices = jax.devices() if devices is None else devices
    return Mesh(np.asarray(devices), (DATA_AXIS,))


def check_divisible(batch_size: int, mesh: Mesh) -> None:
    n = mesh.devices.size
    if batch_size % n:
        raise ValueError(
            f"batch size {batch_size} does not divide across {n} devices: choose a batch size that is a "
            f"multiple of {n} (or run on fewer devices)"
        )


def shard_batch(batch, mesh: Mesh, axis: int = 0):
    """Place every array of ``batch`` (a pytree, examples along ``axis``: 0, or 1 for ``[steps, B, ...]`` stacks
    of batches) split across the mesh."""
    sharding = NamedSharding(mesh, PartitionSpec(*([None] * axis), DATA_AXIS))

    def put(x):
        x = np.asarray(x) if not isinstance(x, jax.Array) else x
        check_divisible(x.shape[axis], mesh)
        return jax.device_put(x, sharding)

    return jax.tree.map(put, batch)


def replicate(objects, mesh: Mesh) -> None:
    """Replicate the NNX state of ``objects`` on every device of ``mesh`` (in place)."""
    state = nnx.state(objects)
    nnx.update(objects, jax.device_put(state, NamedSharding(mesh, PartitionSpec())))
