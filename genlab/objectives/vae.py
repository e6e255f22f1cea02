"""The VAE objective and the latent scale factor.

The negative ELBO per image (Kingma & Welling 2014, eq. 10) with a Gaussian decoder is, up to constants,
``sum (x - recon)^2 / (2 s^2) + KL(q(z|x) || N(0, I))``. We divide by the number of pixels and write it as

    loss = mse + kl_weight * kl_per_dim,   mse = mean (x - recon)^2,   kl_per_dim = KL / (h * w * c_latent)

so ``kl_weight`` = 2 s^2 * (latent dims / pixels); small weights (about 1e-3 here) keep sharp
reconstructions, as latent diffusion wants (Rombach et al. 2022 use a very small KL weight too).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from genlab.models.vae import reparameterize


def gaussian_kl(mean: jax.Array, logvar: jax.Array) -> jax.Array:
    """KL( N(mean, exp(logvar)) || N(0, 1) ) per latent element, same shape as ``mean``:
    ``0.5 * (mean^2 + exp(logvar) - 1 - logvar)`` (Kingma & Welling 2014, appendix B)."""
    return 0.5 * (jnp.square(mean) + jnp.exp(logvar) - 1.0 - logvar)


def vae_loss(model, batch: dict, key: jax.Array, kl_weight: float = 1e-3):
    """``batch["image"]: [B, H, W, C]`` -> ``(loss, {"mse", "kl_per_dim"})``, z sampled with ``key``."""
    x = batch["image"]
    out = model(x, key)
    mse = jnp.mean(jnp.square(out.recon - x))
    kl_per_dim = jnp.mean(gaussian_kl(out.mean, out.logvar))  # mean over batch and latent elements, nats
    return mse + kl_weight * kl_per_dim, {"mse": mse, "kl_per_dim": kl_per_dim}


def posterior_dataset(vae, images, *, batch_size: int = 500) -> tuple[np.ndarray, np.ndarray]:
    """Posterior means and log-variances of ``images: [N, H, W, C]``, encoded in batches: two ``[N, h, w, c]``."""
    means, logvars = [], []
    for start in range(0, len(images), batch_size):
        mean, logvar = _encode(vae, jnp.asarray(images[start : start + batch_size]))
        means.append(np.asarray(mean))
        logvars.append(np.asarray(logvar))
    return np.concatenate(means), np.concatenate(logvars)


def encode_dataset(vae, images, key: jax.Array | None, *, batch_size: int = 500) -> np.ndarray:
    """Unscaled latents of ``images: [N, H, W, C]`` -> ``[N, h, w, c]``: posterior samples, or the means
    when ``key`` is None. The noise is drawn for all N at once, so ``batch_size`` does not change the result."""
    mean, logvar = posterior_dataset(vae, images, batch_size=batch_size)
    return mean if key is None else np.asarray(reparameterize(jnp.asarray(mean), jnp.asarray(logvar), key))


@nnx.jit
def _encode(vae, x):
    return vae.encode(x)


def latent_scale_from_data(vae, images, key: jax.Array, *, batch_size: int = 500) -> float:
    """``1 / std`` of posterior samples z over ``images: [N, H, W, C]``: multiplying latents by it gives
    them unit variance (Stable Diffusion's 0.18215 was found the same way for its VAE)."""
    z = encode_dataset(vae, images, key, batch_size=batch_size)
    return float(1.0 / np.std(z.astype(np.float64)))


def set_latent_scale(vae, images, key: jax.Array, *, batch_size: int = 500) -> float:
    """Compute :func:`latent_scale_from_data` and store it in ``vae.latent_scale``; returns it."""
    scale = latent_scale_from_data(vae, images, key, batch_size=batch_size)
    vae.latent_scale[...] = jnp.asarray(scale, jnp.float32)
    return scale
