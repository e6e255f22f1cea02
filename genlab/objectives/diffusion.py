"""The diffusion objective (Ho et al. 2020, Algorithm 1) with condition dropout for classifier-free guidance.

1. draw a training step t ~ U{0, ..., T-1} and noise eps ~ N(0, I) per example;
2. noise the data: x_t = alpha_t x0 + sigma_t eps (``q_sample``);
3. replace the condition by the null condition for a fraction ``cond_drop`` of the examples (Ho & Salimans 2021,
   "Classifier-Free Diffusion Guidance", Algorithm 1), so that one network learns both p(x | c) and p(x);
4. regress the network's output on the target of its ``prediction``: eps (the noise, as DDPM and the lecture),
   v = alpha_t eps - sigma_t x0 (Salimans & Ho 2022) or x0, with the plain mean squared error ("L_simple").

The model is any callable ``model(x_t, t, cond, cond_mask) -> [B, H, W, C]`` with integer steps ``t: [B]``
(a ``genlab.models.unet.UNet`` is one). The null condition is either given (``null_cond: [L, D]`` states of
the empty caption, e.g. from a frozen text encoder, with ``null_mask: [L]``) or, by default, the example's own
condition with every token masked out, which the U-Net's cross-attention reads as "no condition". Sampling must
use the same null condition as training (``genlab.samplers.diffusion`` takes the same two arguments).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from genlab.schedules.diffusion import Schedule, q_sample
from genlab.schedules.predictions import check_prediction, target


def null_condition(cond: jax.Array, null_cond: jax.Array | None = None,
                   null_mask: jax.Array | None = None) -> tuple[jax.Array, jax.Array]:
    """The null condition in the shape of ``cond: [B, L, D]`` -> ``(null_cond [B, L, D], null_mask [B, L] bool)``.

    ``null_cond=None``: zeros with a mask of all False. Otherwise ``null_cond: [L, D]`` or ``[1|B, L, D]`` is
    broadcast to ``[B, L, D]``, with ``null_mask`` (``[L]`` or ``[1|B, L]``; None: all True) likewise.
    """
    b, length = cond.shape[:2]
    if null_cond is None:
        return jnp.zeros_like(cond), jnp.zeros((b, length), bool)
    null_cond = jnp.asarray(null_cond, cond.dtype)
    if null_cond.shape[-2:] != cond.shape[-2:]:
        raise ValueError(f"null_cond has shape {null_cond.shape}, but the condition has [B, L, D] = {cond.shape}: "
                         "pad the null caption's states to the same length L and width D")
    null_mask = jnp.ones((length,), bool) if null_mask is None else jnp.asarray(null_mask, bool)
    return jnp.broadcast_to(null_cond, cond.shape), jnp.broadcast_to(null_mask, (b, length))


def drop_condition(key: jax.Array, cond: jax.Array, cond_mask: jax.Array | None, p: float,
                   null_cond: jax.Array | None = None, null_mask: jax.Array | None = None):
    """Replace the condition of each example by the null condition with probability ``p``.

    cond: [B, L, D], cond_mask: [B, L] or None (all True) -> (cond, cond_mask, dropped [B] bool).
    """
    b, length = cond.shape[:2]
    cond_mask = jnp.ones((b, length), bool) if cond_mask is None else cond_mask.astype(bool)
    dropped = jax.random.bernoulli(key, p, (b,))  # [B]
    null, null_m = null_condition(cond, null_cond, null_mask)
    cond = jnp.where(dropped[:, None, None], null, cond)
    cond_mask = jnp.where(dropped[:, None], null_m, cond_mask)
    return cond, cond_mask, dropped


def diffusion_loss(model, batch: dict, key: jax.Array, *, schedule: Schedule, prediction: str = "eps",
                   cond_drop: float = 0.1, null_cond: jax.Array | None = None,
                   null_mask: jax.Array | None = None) -> tuple[jax.Array, dict[str, jax.Array]]:
    """Mean squared error of the network's ``prediction`` -> ``(loss, metrics)``.

    batch: ``"x0": [B, H, W, C]`` data (e.g. scaled VAE latents), optional ``"cond": [B, L, D]`` and
    ``"cond_mask": [B, L]`` bool (True = a real token). Bind the settings with ``functools.partial`` and train
    with ``genlab.train.steps.make_train_step``. Metrics: ``mse`` (the loss) and ``cond_dropped`` (the fraction
    of examples trained with the null condition).
    """
    check_prediction(prediction)
    if not 0.0 <= cond_drop <= 1.0:
        raise ValueError(f"cond_drop is a probability, got {cond_drop}")
    x0 = batch["x0"]
    b = x0.shape[0]
    k_t, k_noise, k_drop = jax.random.split(key, 3)
    t = jax.random.randint(k_t, (b,), 0, schedule.num_timesteps)  # [B] int32
    eps = jax.random.normal(k_noise, x0.shape, x0.dtype)
    x_t = q_sample(x0, t, eps, schedule)

    cond, cond_mask = batch.get("cond"), batch.get("cond_mask")
    dropped = jnp.zeros((b,), bool)
    if cond is not None and cond_drop > 0:
        cond, cond_mask, dropped = drop_condition(k_drop, cond, cond_mask, cond_drop, null_cond, null_mask)

    out = model(x_t, t, cond, cond_mask)
    shape = (b,) + (1,) * (x0.ndim - 1)
    y = target(prediction, x0, eps, schedule.alpha(t).reshape(shape), schedule.sigma(t).reshape(shape))
    loss = jnp.mean((out - y) ** 2)
    return loss, {"mse": loss, "cond_dropped": jnp.mean(dropped.astype(jnp.float32))}
