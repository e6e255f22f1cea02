"""Images to VAE latents and back, over whole data sets: the first and last stage of latent diffusion.

``posterior_dataset`` encodes once (means and log-variances); ``encode_dataset`` gives posterior means or
samples; ``decode_latents`` and ``reconstruct`` go back to pixels; ``set_latent_scale`` computes the scale
factor that gives the latents unit variance (Stable Diffusion's 0.18215 was found the same way).
Latents here are *unscaled* unless a name says otherwise.
"""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from genlab.models.vae import VAE, VAEConfig, reparameterize
from genlab.shipped import shipped
from genlab.train.batched import batched_apply
from genlab.train.checkpoint import load_weights, read_info, save_weights

VAE_DIR = shipped("vae")
REGENERATE_VAE = "genlab ship vae-fmnist"


@nnx.jit
def _encode(vae, x):
    return vae.encode(x)


@nnx.jit
def _decode(vae, z):
    return vae.decode(z)


def posterior_dataset(vae, images, *, batch_size: int = 500) -> tuple[np.ndarray, np.ndarray]:
    """Posterior means and log-variances of ``images: [N, H, W, C]``, encoded in batches: two ``[N, h, w, c]``."""
    return batched_apply(functools.partial(_encode, vae), images, chunk=batch_size)


def encode_dataset(vae, images, key: jax.Array | None, *, batch_size: int = 500) -> np.ndarray:
    """Unscaled latents of ``images: [N, H, W, C]`` -> ``[N, h, w, c]``: posterior samples, or the means
    when ``key`` is None. The noise is drawn for all N at once, so ``batch_size`` does not change the result."""
    mean, logvar = posterior_dataset(vae, images, batch_size=batch_size)
    return mean if key is None else np.asarray(reparameterize(jnp.asarray(mean), jnp.asarray(logvar), key))


def decode_latents(vae, z: np.ndarray, chunk: int = 500) -> np.ndarray:
    """Unscaled ``z: [N, h, w, c]`` -> images ``[N, 28, 28, 1]`` clipped to [-1, 1]."""
    return np.clip(batched_apply(functools.partial(_decode, vae), z, chunk=chunk), -1.0, 1.0)


def reconstruct(vae, images: np.ndarray) -> np.ndarray:
    """``images: [N, 28, 28, 1]`` -> reconstructions from the posterior means, clipped to [-1, 1]."""
    return decode_latents(vae, encode_dataset(vae, images, None))


def latent_scale_from_data(vae, images, key: jax.Array, *, batch_size: int = 500) -> float:
    """``1 / std`` of posterior samples z over ``images: [N, H, W, C]``: multiplying latents by it gives
    them unit variance."""
    z = encode_dataset(vae, images, key, batch_size=batch_size)
    return float(1.0 / np.std(z.astype(np.float64)))


def set_latent_scale(vae, images, key: jax.Array, *, batch_size: int = 500) -> float:
    """Compute :func:`latent_scale_from_data` and store it in ``vae.latent_scale``; returns it."""
    scale = latent_scale_from_data(vae, images, key, batch_size=batch_size)
    vae.latent_scale[...] = jnp.asarray(scale, jnp.float32)
    return scale


def save_vae(vae, folder: str | Path, info: dict) -> Path:
    """Write ``folder/vae.{npz,json}``: parameters, config and latent scale (with ``info``)."""
    config = {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(vae.config).items()}
    save_weights(vae, folder, "vae", {"config": config, "latent_scale": float(vae.latent_scale[...]), **info})
    return Path(folder) / "vae.npz"


@functools.lru_cache(maxsize=2)
def load_vae(folder: str | Path = VAE_DIR):
    """The shipped VAE (``data/vae/``), latent scale set, ready to encode and decode; loaded once per folder."""
    info = read_info(folder, "vae", REGENERATE_VAE)
    config = VAEConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in info["config"].items()})
    vae = load_weights(VAE(config, rngs=nnx.Rngs(0)), folder, "vae", REGENERATE_VAE)
    vae.latent_scale[...] = jnp.asarray(info["latent_scale"], jnp.float32)
    return vae
