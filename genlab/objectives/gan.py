"""GAN objectives: the four losses, R1 and gradient penalties, PacGAN packing, and the one GAN train step.

Real data reaches the step as a batch ``{"x": [B, ...], optional "label": [B]}`` from ``fit``'s
``batches(step)``, or, for data drawn afresh for every D update (2D toy sets), through a bound
``sample_real(key) -> [B, ...]`` function (e.g. ``genlab.data.toy2d.batch_sampler("ring8", 256)``).

Conventions (shared/REFERENCES.md): D returns a logit ``l``; for the probability losses D(x) = σ(l).
With ``f = softplus``, ``-log σ(l) = softplus(-l)`` and ``-log(1 - σ(l)) = softplus(l)``.

| kind             | D minimises                          | G minimises                         |
| ---------------- | ------------------------------------ | ----------------------------------- |
| minimax          | -log D(x) - log(1 - D(G(z)))         | log(1 - D(G(z)))  (saturating)      |
| non_saturating   | same                                 | -log D(G(z))                        |
| wgan             | E[D(G(z))] - E[D(x)]  (+ GP)         | -E[D(G(z))]                         |
| hinge            | E[relu(1 - D(x))] + E[relu(1 + D(G(z)))] | -E[D(G(z))]                     |

The saturating G loss has d/dl = -σ(l) = -D(G(z)) -> 0 when D wins; the non-saturating one has
d/dl = -(1 - D(G(z))) ≈ -1 there (Goodfellow 2014, §3).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import optax
from flax import nnx

LOSSES: tuple[str, ...] = ("minimax", "non_saturating", "wgan", "hinge")


def _check_kind(kind: str) -> None:
    if kind not in LOSSES:
        raise ValueError(f"unknown GAN loss {kind!r}: choose one of {', '.join(LOSSES)}")


# ----------------------------------------------------------------------------------------------- losses
def discriminator_loss(real_logits: jax.Array, fake_logits: jax.Array, kind: str) -> jax.Array:
    """Scalar loss D minimises. real_logits: [B] D's outputs on data; fake_logits: [B] on G(z)."""
    _check_kind(kind)
    if kind in ("minimax", "non_saturating"):  # binary cross-entropy, real = 1, fake = 0
        return jnp.mean(jax.nn.softplus(-real_logits)) + jnp.mean(jax.nn.softplus(fake_logits))
    if kind == "wgan":
        return jnp.mean(fake_logits) - jnp.mean(real_logits)
    return jnp.mean(jax.nn.relu(1.0 - real_logits)) + jnp.mean(jax.nn.relu(1.0 + fake_logits))


def generator_loss(fake_logits: jax.Array, kind: str) -> jax.Array:
    """Scalar loss G minimises. fake_logits: [B] D's outputs on G(z)."""
    _check_kind(kind)
    if kind == "minimax":  # log(1 - D(G(z))) = -softplus(l): saturates when D(G(z)) -> 0
        return -jnp.mean(jax.nn.softplus(fake_logits))
    if kind == "non_saturating":  # -log D(G(z)) = softplus(-l)
        return jnp.mean(jax.nn.softplus(-fake_logits))
    return -jnp.mean(fake_logits)  # wgan and hinge


# -------------------------------------------------------------------------------------------- penalties
def _sum_of_outputs(D, label):
    return lambda x: jnp.sum(D(x, label) if label is not None else D(x))


def r1_penalty(D, real: jax.Array, gamma: float, label: jax.Array | None = None) -> jax.Array:
    """R1 (Mescheder et al. 2018, eq. 9): γ/2 · E‖∇_x D(x_real)‖². Note the 1/2 that some code folds into γ.

    D: callable ``D(x[, label]) -> [B]`` logits; real: [B, ...] in D's input space (already packed).
    """
    grads = jax.grad(_sum_of_outputs(D, label))(real)  # [B, ...]
    sq_norm = jnp.sum(grads.reshape(grads.shape[0], -1) ** 2, axis=1)  # [B]
    return 0.5 * gamma * jnp.mean(sq_norm)


def gradient_penalty(D, real: jax.Array, fake: jax.Array, key: jax.Array,
                     label: jax.Array | None = None) -> jax.Array:
    """WGAN-GP (Gulrajani et al. 2017, eq. 3) without its weight λ: E (‖∇D(x̂)‖ − 1)².

    x̂ = ε x_real + (1 − ε) x_fake with ε ~ U(0, 1) per example (not N(0, 1), a known bug).
    real, fake: [B, ...] in D's input space.
    """
    eps = jax.random.uniform(key, (real.shape[0],) + (1,) * (real.ndim - 1))  # [B, 1, ...]
    x_hat = eps * real + (1.0 - eps) * fake
    grads = jax.grad(_sum_of_outputs(D, label))(x_hat)
    norm = jnp.sqrt(jnp.sum(grads.reshape(grads.shape[0], -1) ** 2, axis=1) + 1e-12)  # [B]
    return jnp.mean((norm - 1.0) ** 2)


# ----------------------------------------------------------------------------------- anti mode collapse
def pack(x: jax.Array, m: int) -> jax.Array:
    """PacGAN packing (Lin et al. 2018): m samples become one input of D.

    x: [B, d] -> [B/m, m·d] (features concatenated); x: [B, H, W, C] -> [B/m, H, W, m·C] (channels).
    """
    if m == 1:
        return x
    if x.shape[0] % m:
        raise ValueError(f"pack: batch size {x.shape[0]} is not a multiple of the packing degree {m}; "
                         f"use a batch size divisible by {m}")
    grouped = x.reshape((x.shape[0] // m, m) + x.shape[1:])  # [B/m, m, ...]
    grouped = jnp.moveaxis(grouped, 1, -2)  # [B/m, ..., m, last]
    return grouped.reshape(grouped.shape[:-2] + (m * x.shape[-1],))


# ------------------------------------------------------------------------------------------ the step
@dataclasses.dataclass(frozen=True)
class GANSettings:
    """Static settings of :func:`gan_train_step` (hashable: bound with functools.partial)."""

    loss: str = "non_saturating"  # one of LOSSES
    n_critic: int = 1  # D updates per G update (alternating, D first)
    r1_gamma: float = 0.0  # R1 weight γ (penalty γ/2 · E‖∇D(x)‖²); 0 = off
    gp_weight: float = 0.0  # WGAN-GP weight λ; 0 = off
    pack: int = 1  # PacGAN degree m; D must take m times the input features/channels (the one place it is set)

    def __post_init__(self):
        _check_kind(self.loss)
        if self.n_critic < 1 or self.pack < 1:
            raise ValueError(f"n_critic and pack must be >= 1, got {self.n_critic} and {self.pack}")


SampleReal = Callable[[jax.Array], jax.Array]  # sample_real(key) -> real examples [B, ...]


def _logits(D, x: jax.Array, label: jax.Array | None) -> jax.Array:
    out = D(x, label) if label is not None else D(x)
    return out.reshape(out.shape[0])  # [B] from [B] or [B, 1]


def _real_batch(batch: Any, key: jax.Array, sample_real: SampleReal | None) -> tuple[jax.Array, jax.Array | None]:
    if batch is not None:
        return batch["x"], batch.get("label")
    if sample_real is None:
        raise ValueError("gan_train_step got batch=None and no sample_real: pass batches to fit, or bind a real-data "
                         "sampler with make_gan_step(settings, sample_real=batch_sampler('ring8', 256))")
    return sample_real(key), None


def _apply_g(G, z: jax.Array, label: jax.Array | None) -> jax.Array:
    return G(z, label) if label is not None else G(z)


def _d_loss_fn(D, real, fake, label, key, settings: GANSettings):
    m = settings.pack
    if m > 1 and label is not None:
        raise ValueError("packing (pack > 1) with class labels is not supported: use pack=1 for a conditional D")
    real_p, fake_p = pack(real, m), pack(fake, m)
    real_logits, fake_logits = _logits(D, real_p, label), _logits(D, fake_p, label)
    loss = discriminator_loss(real_logits, fake_logits, settings.loss)
    penalty = jnp.zeros(())
    if settings.r1_gamma > 0:
        penalty = penalty + r1_penalty(D, real_p, settings.r1_gamma, label)
    if settings.gp_weight > 0:
        penalty = penalty + settings.gp_weight * gradient_penalty(D, real_p, fake_p, key, label)
    return loss + penalty, (loss, penalty, real_logits, fake_logits)


def _g_loss_fn(G, D, z, label, settings: GANSettings):
    fake = _apply_g(G, z, label)
    fake_logits = _logits(D, pack(fake, settings.pack), label)
    return generator_loss(fake_logits, settings.loss), fake_logits


def _score(logits: jax.Array, kind: str) -> jax.Array:
    """Mean D output: σ(logit) for the probability losses, the raw score for wgan/hinge."""
    return jnp.mean(jax.nn.sigmoid(logits) if kind in ("minimax", "non_saturating") else logits)


@functools.partial(nnx.jit, static_argnames=("settings", "sample_real"))
def gan_train_step(G, D, opt_g: nnx.Optimizer, opt_d: nnx.Optimizer, batch: Any, key: jax.Array,
                   settings: GANSettings, sample_real: SampleReal | None = None) -> dict[str, jax.Array]:
    """``settings.n_critic`` D updates, then one G update (alternating). Returns scalar metrics.

    G(z[, label]) -> x with ``G.latent_dim``; D(x[, label]) -> logits [B] or [B, 1].
    batch: ``{"x": [B, ...], optional "label": [B]}`` (the same real batch for every D update), or ``None``
    to draw a fresh real batch ``sample_real(key)`` for every D update (a static argument: bind one object
    per data set and batch size, so the step compiles once).
    Metrics: d_loss, g_loss, d_real, d_fake, grad_norm_d, grad_norm_g, penalty (R1 + λ·GP, 0 if off).
    """
    k_critic, k_gen = jax.random.split(key)
    for i in range(settings.n_critic):
        k_data, k_z, k_gp = jax.random.split(jax.random.fold_in(k_critic, i), 3)
        real, label = _real_batch(batch, k_data, sample_real)
        fake = _apply_g(G, jax.random.normal(k_z, (real.shape[0], G.latent_dim)), label)
        (_, (d_loss, penalty, real_logits, fake_logits)), grads_d = nnx.value_and_grad(
            _d_loss_fn, has_aux=True)(D, real, jax.lax.stop_gradient(fake), label, k_gp, settings)
        opt_d.update(D, grads_d)
    z = jax.random.normal(k_gen, (real.shape[0], G.latent_dim))
    (g_loss, _), grads_g = nnx.value_and_grad(_g_loss_fn, has_aux=True)(G, D, z, label, settings)
    opt_g.update(G, grads_g)
    return {
        "d_loss": d_loss,
        "g_loss": g_loss,
        "d_real": _score(real_logits, settings.loss),
        "d_fake": _score(fake_logits, settings.loss),
        "grad_norm_d": optax.global_norm(grads_d),
        "grad_norm_g": optax.global_norm(grads_g),
        "penalty": penalty,
    }


def make_gan_step(settings: GANSettings, sample_real: SampleReal | None = None):
    """``step(G, D, opt_g, opt_d, batch, key) -> metrics`` for :func:`genlab.train.fit`; with ``sample_real``
    the step draws its own real data (pass ``batches=None`` to fit)."""
    return functools.partial(gan_train_step, settings=settings, sample_real=sample_real)
