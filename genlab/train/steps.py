"""The one train-step shape (shared/STYLE.md, habit 4), built around any ``loss_fn``."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import jax
from flax import nnx

LossFn = Callable[[Any, Any, jax.Array], tuple[jax.Array, dict[str, jax.Array]]]


def make_train_step(loss_fn: LossFn):
    """``train_step(model, optimizer, batch, key) -> metrics`` for ``loss_fn(model, batch, key) -> (loss, metrics)``.

    Bind settings into ``loss_fn`` with ``functools.partial`` before calling this.
    The returned metrics hold ``loss`` and the gradient's global norm ``grad_norm`` beside ``loss_fn``'s own.
    """

    @nnx.jit
    def train_step(model, optimizer, batch, key):
        (loss, metrics), grads = nnx.value_and_grad(loss_fn, has_aux=True)(model, batch, key)
        optimizer.update(model, grads)
        return {"loss": loss, "grad_norm": _global_norm(grads), **metrics}

    return train_step


@functools.lru_cache(maxsize=64)
def scan_steps(step_fn, steps: int):
    """``multi(*objects, batches, keys) -> metrics``: ``steps`` calls of ``step_fn(*objects, batch, key)`` as one
    compiled ``lax.scan`` (one dispatch instead of ``steps``; ``genlab.train.fit(..., steps_per_call=steps)``).

    batches: a pytree whose arrays lead with ``[steps, ...]`` (step i gets ``batches[i]``), or None (the step draws
    its data from its key); keys: ``[steps]`` typed keys. Returns every metric stacked ``[steps]``. The objects are
    updated in place, as ``steps`` single calls would update them (the same numbers up to float rounding: XLA may
    fuse the loop body differently). Cached per ``(step_fn, steps)``: every ``fit`` call with the same step reuses
    the compiled loop.
    """

    @nnx.jit
    def multi(*args):
        *objects, batches, keys = args
        graphdef, state = nnx.split(tuple(objects))

        def body(state, xs):
            objs = nnx.merge(graphdef, state)
            metrics = step_fn(*objs, *xs)
            return nnx.state(objs), metrics

        state, metrics = jax.lax.scan(body, state, (batches, keys))
        nnx.update(tuple(objects), state)
        return metrics

    return multi


def _global_norm(grads) -> jax.Array:
    import optax

    return optax.global_norm(jax.tree.leaves(grads))
