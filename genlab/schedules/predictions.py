"""What the network predicts: the noise eps, the clean data x0, or the velocity v, and how to convert.

With ``x_t = alpha_t x0 + sigma_t eps`` (alpha_t^2 + sigma_t^2 = 1) the three targets are linked by
(Salimans & Ho 2022, "Progressive Distillation", sec. 4 and appendix D):

    v   = alpha_t eps - sigma_t x0
    x0  = (x_t - sigma_t eps) / alpha_t  =  alpha_t x_t - sigma_t v
    eps = (x_t - alpha_t x0) / sigma_t   =  sigma_t x_t + alpha_t v

``alpha``/``sigma`` are arrays that broadcast against ``x_t`` (e.g. ``[B, 1, 1, 1]`` or scalars). Dividing by
alpha_t fails at a zero-SNR final step (alpha = 0); the samplers floor alpha at ``ALPHA_MIN`` there, as
diffusers floors alpha_bar at 2**-24, and v-prediction needs no division at all.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

PREDICTIONS = ("eps", "v", "x0")
ALPHA_MIN = 2.0**-12  # sqrt(2**-24): the smallest alpha_t an eps -> x0 conversion divides by


def check_prediction(prediction: str) -> None:
    if prediction not in PREDICTIONS:
        raise ValueError(f"unknown prediction {prediction!r}: choose one of {', '.join(PREDICTIONS)}")


def v_target(x0: jax.Array, eps: jax.Array, alpha: jax.Array, sigma: jax.Array) -> jax.Array:
    """The velocity ``v = alpha_t eps - sigma_t x0`` (Salimans & Ho 2022, eq. in sec. 4)."""
    return alpha * eps - sigma * x0


def target(prediction: str, x0: jax.Array, eps: jax.Array, alpha: jax.Array, sigma: jax.Array) -> jax.Array:
    """The regression target of a ``prediction`` ("eps", "v" or "x0") network."""
    check_prediction(prediction)
    return {"eps": eps, "x0": x0}[prediction] if prediction != "v" else v_target(x0, eps, alpha, sigma)


def to_x0_eps(prediction: str, output: jax.Array, x_t: jax.Array, alpha: jax.Array,
              sigma: jax.Array) -> tuple[jax.Array, jax.Array]:
    """A network ``output`` of kind ``prediction`` at ``x_t`` -> ``(x0_hat, eps_hat)``, both like ``x_t``."""
    check_prediction(prediction)
    if prediction == "eps":
        return (x_t - sigma * output) / jnp.maximum(alpha, ALPHA_MIN), output
    if prediction == "v":
        return alpha * x_t - sigma * output, sigma * x_t + alpha * output
    return output, (x_t - alpha * output) / sigma
