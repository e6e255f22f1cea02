"""An exponential moving average (EMA) of the weights, for sampling (Ho et al. 2020, app. B; Song & Ermon 2020).

    ema_model = nnx.clone(model)                       # starts as a copy
    step = with_ema(make_train_step(loss_fn), decay=0.999)
    fit((model, optimizer, ema_model), step, batches, steps=..., key=...)
    sample(ema_model, ...)                             # sample with the averaged weights

After each optimiser step ``theta_ema <- decay * theta_ema + (1 - decay) * theta``: an average over roughly the
last ``1 / (1 - decay)`` steps, smoother than the last iterate, which is what diffusion models sample with.
Short runs need a short average: ``decay=0.999`` needs thousands of steps to forget the initial weights;
``warmup=True`` uses ``min(decay, (1 + n) / (10 + n))`` at step n (as in TensorFlow's ExponentialMovingAverage
with ``num_updates``) so that the average tracks the model early on.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx


def ema_decay(decay: float, step: jax.Array | int | None = None) -> jax.Array | float:
    """The decay at optimiser step ``step`` (0-based) with warmup, or ``decay`` when ``step`` is None."""
    if step is None:
        return decay
    n = jnp.asarray(step, jnp.float32)
    return jnp.minimum(decay, (1.0 + n) / (10.0 + n))


def ema_update(ema_model, model, decay: jax.Array | float) -> None:
    """In place: every ``nnx.Param`` of ``ema_model`` <- ``decay * ema + (1 - decay) * param`` of ``model``.

    The two models must have the same structure (``ema_model = nnx.clone(model)``). Other state (e.g. batch
    statistics) is not averaged. Works inside ``nnx.jit``.
    """
    ema_state, state = nnx.state(ema_model, nnx.Param), nnx.state(model, nnx.Param)
    new = jax.tree.map(lambda e, p: (decay * e + (1.0 - decay) * p).astype(e.dtype), ema_state, state)
    nnx.update(ema_model, new)


def with_ema(train_step, decay: float, *, warmup: bool = False):
    """``train_step(model, optimizer, batch, key)`` -> ``step(model, optimizer, ema_model, batch, key)`` that also
    updates ``ema_model`` after the optimiser step (for ``fit((model, optimizer, ema_model), step, ...)``).
    With ``warmup`` the decay follows :func:`ema_decay` over the optimiser's step count.
    """

    @nnx.jit
    def step(model, optimizer, ema_model, batch, key):
        metrics = train_step(model, optimizer, batch, key)
        d = ema_decay(decay, optimizer.step[...] - 1) if warmup else decay
        ema_update(ema_model, model, d)
        return {**metrics, "ema_decay": jnp.asarray(d, jnp.float32)}

    return step
