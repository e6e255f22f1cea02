"""One-step denoising of a data set: the U-Net denoiser of lab 02 and ``unet-skip`` applied in chunks."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from genlab.objectives.denoise import add_noise, denoise
from genlab.train.batched import batched_apply


@nnx.jit
def _denoise_clipped(model, x_noisy, sigma):
    return jnp.clip(denoise(model, x_noisy, sigma), -1.0, 1.0)


def denoise_images(model, x_noisy: np.ndarray, sigma: float, chunk: int = 500) -> np.ndarray:
    """``x_noisy: [N, H, W, C]`` at noise level ``sigma`` -> denoised ``[N, H, W, C]`` clipped to [-1, 1]."""
    return batched_apply(functools.partial(_denoise_clipped, model, sigma=jnp.float32(sigma)), x_noisy, chunk=chunk)


def noisy_copies(images: np.ndarray, sigmas, key: jax.Array) -> dict[float, np.ndarray]:
    """The same clean ``images`` with noise of each level (one key per level, folded in by index)."""
    return {s: np.asarray(add_noise(jnp.asarray(images), jnp.full((len(images),), s, jnp.float32),
                                    jax.random.fold_in(key, i)))
            for i, s in enumerate(sigmas)}
