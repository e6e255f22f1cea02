"""Denoising as regression: learn ``x0`` from ``x0 + sigma * eps`` at many noise levels.

The model ``model(x_noisy, t) -> x0_hat`` is told the noise level through its time input, ``t = sigma``
(so ``sigma_max <= 1``, the U-Net's float time range). It predicts the clean image itself, not the noise:
with an eps-prediction the error of ``x0 = x_noisy - sigma * eps_hat`` shrinks with sigma and would hide
exactly what the skip-connection experiment measures, how well fine detail is rebuilt.

Noise levels are drawn log-uniformly in ``[sigma_min, sigma_max]`` so every octave gets equal training.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def sample_sigma(key: jax.Array, n: int, sigma_min: float, sigma_max: float) -> jax.Array:
    """``[n]`` noise levels, log-uniform in ``[sigma_min, sigma_max]``."""
    u = jax.random.uniform(key, (n,))
    return jnp.exp(jnp.log(sigma_min) + u * (jnp.log(sigma_max) - jnp.log(sigma_min)))


def add_noise(x0: jax.Array, sigma: jax.Array, key: jax.Array) -> jax.Array:
    """``x0: [B, H, W, C]``, ``sigma: [B]`` -> ``x0 + sigma * eps``, eps ~ N(0, I)."""
    return x0 + sigma[:, None, None, None] * jax.random.normal(key, x0.shape, x0.dtype)


def denoise(model, x_noisy: jax.Array, sigma: jax.Array) -> jax.Array:
    """``x_noisy: [B, H, W, C]``, ``sigma: [B]`` (or scalar) -> ``x0_hat: [B, H, W, C]``."""
    sigma = jnp.broadcast_to(jnp.asarray(sigma, jnp.float32), (x_noisy.shape[0],))
    return model(x_noisy, sigma)


def denoise_loss(model, batch: dict, key: jax.Array, sigma_min: float = 0.05, sigma_max: float = 1.0):
    """Mean squared error of ``x0_hat`` against ``x0 = batch["image"]: [B, H, W, C]`` -> ``(loss, metrics)``."""
    if not 0 < sigma_min < sigma_max <= 1.0:
        raise ValueError(f"need 0 < sigma_min < sigma_max <= 1 (t = sigma), got {sigma_min}, {sigma_max}")
    x0 = batch["image"]
    k_sigma, k_noise = jax.random.split(key)
    sigma = sample_sigma(k_sigma, x0.shape[0], sigma_min, sigma_max)  # [B]
    x0_hat = denoise(model, add_noise(x0, sigma, k_noise), sigma)
    loss = jnp.mean((x0_hat - x0) ** 2)
    return loss, {"mse": loss}
