"""The one training loop every genlab model goes through.

``fit`` drives a jit-compiled train step of the shape in shared/STYLE.md (habit 4)::

    @nnx.jit
    def train_step(model, optimizer, batch, key):
        (loss, metrics), grads = nnx.value_and_grad(loss_fn, has_aux=True)(model, batch, key)
        optimizer.update(model, grads)
        return metrics

and adds what every run needs: a progress bar (terminal and notebook), metric history kept on the
host, callbacks every N steps, a guard that stops on NaN/Inf, Orbax checkpoints with exact resume,
and data parallelism over all local devices.

Exact resume rests on two rules: the batch of step ``s`` is ``batches(s)`` (a pure function of the
step) and the key of step ``s`` is ``fold_in(key, s)``. A run killed after a checkpoint and resumed
therefore replays exactly the steps an uninterrupted run would have taken.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import jax
import numpy as np
from tqdm.auto import tqdm

from genlab.train import checkpoint
from genlab.train.history import History
from genlab.train.sharding import data_mesh, replicate, shard_batch
from genlab.train.steps import scan_steps

StepFn = Callable[..., dict[str, Any]]  # step_fn(*objects, batch, key) -> metrics
Callback = Callable[[int, tuple, "History"], dict[str, Any] | None]  # cb(step, objects, history)


class NonFiniteError(FloatingPointError):
    """A train metric became NaN or Inf. Carries where, what, the history so far and the last good checkpoint."""

    def __init__(self, step: int, metric: str, value: float, history: History, last_checkpoint: Path | None):
        self.step, self.metric, self.value = step, metric, value
        self.history, self.last_checkpoint = history, last_checkpoint
        where = (f"the last good checkpoint is {last_checkpoint} (resume from it with a smaller learning rate)"
                 if last_checkpoint else "no checkpoint was saved before it (pass run_dir and checkpoint_every)")
        super().__init__(
            f"training stopped at step {step}: metric {metric!r} became {value} (non-finite). "
            f"Lower the learning rate, add gradient clipping or a penalty, and check the inputs; {where}."
        )


@jax.jit
def _fold_in_many(key: jax.Array, steps: jax.Array) -> jax.Array:
    """``[fold_in(key, s) for s in steps]`` as one ``[K]`` key array."""
    return jax.vmap(jax.random.fold_in, in_axes=(None, 0))(key, steps)


def _to_float(value: Any) -> float:
    return float(np.asarray(value))


def fit(
    objects: Sequence[Any],
    step_fn: StepFn,
    batches: Callable[[int], Any],
    *,
    steps: int,
    key: jax.Array,
    run_dir: str | Path | None = None,
    checkpoint_every: int = 0,
    log_every: int = 10,
    callbacks: Sequence[Callback] = (),
    callback_every: int = 0,
    progress: bool = True,
    desc: str = "",
    mesh: Any = "auto",
    resume: bool = True,
    steps_per_call: int = 1,
) -> History:
    """Run ``step_fn(*objects, batches(s), fold_in(key, s))`` for s = start..steps-1 and return the history.

    objects: NNX graph nodes trained in place, e.g. ``(model, optimizer)`` or ``(G, D, opt_g, opt_d)``.
    batches: ``batches(step) -> batch`` (a pytree whose arrays lead with the example axis), or ``None``
        values for steps that sample their own data from the key.
    run_dir: where checkpoints go; with ``resume`` the newest one there is loaded first.
    checkpoint_every: also save every N steps (0: only at the end).
    log_every: fetch metrics to the host (and check them) every N steps; every step is recorded.
    callbacks: ``cb(step, objects, history) -> dict | None`` every ``callback_every`` steps and at the end;
        returned dicts go to ``history.evals``.
    mesh: ``"auto"`` shards batches over all devices when there are several; a Mesh; or ``None``.
    steps_per_call: K > 1 runs K steps per compiled call (a ``lax.scan`` of ``step_fn``, which must take the
        objects it is given, e.g. ``make_train_step``'s step, not a ``cached_partial``); a chunk never crosses a
        checkpoint or callback step (those steps run singly), metrics are still recorded for every step.
    """
    objects = tuple(objects)
    if steps < 0:
        raise ValueError(f"steps must be >= 0, got {steps}")
    if steps_per_call < 1:
        raise ValueError(f"steps_per_call must be >= 1, got {steps_per_call}")
    if mesh == "auto":
        mesh = data_mesh() if jax.device_count() > 1 else None
    run_dir = Path(run_dir) if run_dir is not None else None
    history, start, last_ckpt = History(), 0, None
    if run_dir is not None and resume and (found := checkpoint.latest(run_dir)) is not None:
        meta = checkpoint.restore(found, objects)
        start, last_ckpt = int(meta["step"]), found
        history = History.from_dict(meta["history"])
    if mesh is not None:
        replicate(objects, mesh)

    def save(step: int) -> Path:
        return checkpoint.save(run_dir, objects, step, {"history": history.as_dict()})

    pending: list[tuple[int, int, dict[str, Any]]] = []  # (first step done, steps in the call, metrics)

    def flush() -> None:
        for first, count, metrics in jax.device_get(pending):
            for i in range(count):
                values = {name: _to_float(v[i] if count > 1 else v) for name, v in metrics.items()}
                for name, value in values.items():
                    if not math.isfinite(value):
                        history.append(first + i, values)
                        raise NonFiniteError(first + i, name, value, history, last_ckpt)
                history.append(first + i, values)
        pending.clear()

    multi = scan_steps(step_fn, steps_per_call) if steps_per_call > 1 else None
    stops = [e for e in (checkpoint_every if run_dir is not None else 0, callback_every if callbacks else 0) if e]

    def call_size(step: int) -> int:
        """K where the next K steps fit before ``steps`` and cross no checkpoint or callback step, else 1."""
        k = steps_per_call
        if k == 1 or step + k > steps or any((step + k - 1) // e != step // e for e in stops):
            return 1
        return k

    t0 = time.perf_counter() - history.wall_seconds
    bar = tqdm(total=steps, initial=start, desc=desc or "train", disable=not progress, leave=False)
    try:
        step = start
        while step < steps:
            k = call_size(step)
            if k == 1:
                batch = batches(step) if batches is not None else None
                if mesh is not None and batch is not None:
                    batch = shard_batch(batch, mesh)
                metrics = step_fn(*objects, batch, jax.random.fold_in(key, step))
            else:
                batch = None
                if batches is not None:
                    batch = jax.tree.map(lambda *b: np.stack(b), *[batches(s) for s in range(step, step + k)])
                    if mesh is not None:
                        batch = shard_batch(batch, mesh, axis=1)
                keys = _fold_in_many(key, np.arange(step, step + k))
                metrics = multi(*objects, batch, keys)
            pending.append((step + 1, k, metrics))
            prev, step = step, step + k
            done = step
            at_ckpt = run_dir is not None and checkpoint_every and done % checkpoint_every == 0
            at_cb = callbacks and callback_every and done % callback_every == 0
            if done // log_every != prev // log_every or done == steps or at_ckpt or at_cb:
                flush()
                bar.update(done - bar.n)
                bar.set_postfix({k: f"{v[-1]:.4g}" for k, v in list(history.metrics.items())[:4]}, refresh=False)
            if at_cb or (callbacks and done == steps):
                for cb in callbacks:
                    result = cb(done, objects, history)
                    if result:
                        history.evals.append({"step": done, **result})
            history.wall_seconds = time.perf_counter() - t0
            if at_ckpt:
                last_ckpt = save(done)
        flush()
        history.wall_seconds = time.perf_counter() - t0
        if run_dir is not None and steps > start:
            save(steps)
    finally:
        bar.close()
    return history
