"""Classifier-free guidance (Ho & Salimans 2021): one convention, used everywhere in genlab.

    eps = eps_null + w * (eps_cond - eps_null)

w = 1 is the conditional model (unguided), w = 0 the unconditional one, w > 1 pushes samples towards what
distinguishes the condition (higher prompt accuracy, lower diversity). (Ho & Salimans write the same rule as
(1 + w') eps_cond - w' eps_null with w' = w - 1; Stable Diffusion's ``guidance_scale`` is our w.)

Both predictions come from one batched network call on ``[x; x]`` with ``[cond; null]``. The rule is applied to
the network's raw output whatever it predicts: eps, v and x0 are affine in one another with the same x_t
(``genlab.schedules.predictions``), so guiding v or x0 gives exactly the eps above.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def cfg_combine(out_cond: jax.Array, out_null: jax.Array, guidance: jax.Array | float) -> jax.Array:
    """``out_null + w * (out_cond - out_null)``: w = 1 gives ``out_cond``, w = 0 ``out_null``."""
    return out_null + guidance * (out_cond - out_null)


def model_output(model, x_t: jax.Array, t: jax.Array, cond: jax.Array | None = None,
                 cond_mask: jax.Array | None = None, null_cond: jax.Array | None = None,
                 null_mask: jax.Array | None = None, guidance: jax.Array | float = 1.0,
                 guided: bool = False) -> jax.Array:
    """The (guided) network output at ``x_t: [B, H, W, C]``, scalar ``t`` (an int diffusion step, or a float flow
    time in [0, 1]) -> ``[B, H, W, C]``.

    ``guided=False``: one call ``model(x_t, t, cond, cond_mask)`` (``guidance`` is not used). ``guided=True``:
    one call on the doubled batch with ``[cond; null_cond]`` (``null_cond: [B, L, D]``, ``null_mask: [B, L]``,
    see ``genlab.objectives.diffusion.null_condition``), combined by :func:`cfg_combine`.
    """
    b = x_t.shape[0]
    # an integer t is a diffusion step index; a float t is flow time in [0, 1] (the U-Net embeds both)
    t_b = jnp.full((b,), t, jnp.int32 if jnp.issubdtype(jnp.result_type(t), jnp.integer) else jnp.float32)
    if not guided:
        return model(x_t, t_b, cond, cond_mask)
    out = model(jnp.concatenate([x_t, x_t]), jnp.concatenate([t_b, t_b]),
                jnp.concatenate([cond, null_cond]), jnp.concatenate([cond_mask, null_mask]))  # [2B, H, W, C]
    out_cond, out_null = out[:b], out[b:]
    return cfg_combine(out_cond, out_null, guidance)
