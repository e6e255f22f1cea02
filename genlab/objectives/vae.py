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
