"""Conditional flow matching (Lipman et al. 2023, eq. 9; Liu et al. 2022; Tong et al. 2023).

    L(θ) = E_{t, (x0, x1)} ‖ v_θ(x_t, t) − dx_t ‖²,   x_t = a_t x1 + b_t x0,   dx_t = ȧ_t x1 + ḃ_t x0

(on the OT path: x_t = t x1 + (1 − t) x0 and the target is x1 − x0). Its minimiser is the marginal velocity
E[dx_t | x_t], which :mod:`genlab.paths.oracle` gives in closed form for Gaussian mixtures.

The batch is a dict: ``x1: [B, ...]`` data; optional ``x0: [B, ...]`` (given pairs, e.g. reflow; otherwise
``coupling(key, x1)`` draws them); optional ``label: [B]`` int, or a text condition ``cond: [B, L, D]`` with
``cond_mask: [B, L]`` (the latent text-to-image U-Net: ``model(x_t, t, cond, cond_mask)``, t a float in [0, 1]).
Condition dropout follows the diffusion convention: each label is replaced by the null label (a text condition
by the null condition, ``genlab.objectives.diffusion.drop_condition``) with probability ``cond_drop``, and
sampling uses v = v_null + w (v_cond − v_null) with w = 1 unguided (:func:`genlab.samplers.ode.model_field`,
:func:`genlab.samplers.ode.text_field`).
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp

from genlab.objectives.diffusion import drop_condition
from genlab.paths.affine import AffinePath
from genlab.paths.couplings import coupling as coupling_named
from genlab.paths.couplings import independent_coupling

T_SAMPLERS = ("uniform", "logit_normal", "late")


def sample_t(key: jax.Array, n: int, kind: str = "uniform") -> jax.Array:
    """``[n]`` training times: ``uniform`` on [0, 1]; ``logit_normal`` (σ(N(0, 1)), Esser et al. 2024: more
    weight mid-path); ``late``: t = 1 − (1 − u)², density 1 / (2√(1 − t)), more weight near the data, where
    narrow modes need a precise field."""
    if kind == "uniform":
        return jax.random.uniform(key, (n,))
    if kind == "logit_normal":
        return jax.nn.sigmoid(jax.random.normal(key, (n,)))
    if kind == "late":
        return 1.0 - (1.0 - jax.random.uniform(key, (n,))) ** 2
    raise ValueError(f"unknown time sampler {kind!r}: choose one of {', '.join(T_SAMPLERS)}")


def drop_labels(key: jax.Array, label: jax.Array, p: float, null_label: int) -> jax.Array:
    """``label: [B]`` with each entry replaced by ``null_label`` with probability ``p``."""
    return jnp.where(jax.random.bernoulli(key, p, label.shape), null_label, label)


def flow_loss(model, batch: dict, key: jax.Array, *, path: AffinePath = AffinePath("ot"),
              coupling=independent_coupling, t_sampler: str = "uniform", cond_drop: float = 0.0,
              null_label: int | None = None):
    """Mean squared error of ``model(x_t, t, label)`` against the conditional target ``dx_t`` -> ``(loss, metrics)``.

    coupling: ``(key, x1) -> (x0, x1)`` (:mod:`genlab.paths.couplings`); ignored when the batch carries ``x0``.
    cond_drop, null_label: condition dropout (needs ``label`` in the batch).
    """
    k_pair, k_t, k_drop = jax.random.split(key, 3)
    x1 = batch["x1"]  # [B, ...]
    x0, x1 = (batch["x0"], x1) if "x0" in batch else coupling(k_pair, x1)
    t = sample_t(k_t, x1.shape[0], t_sampler)  # [B]
    x_t, target = path.sample(x0, x1, t)  # [B, ...] each
    if "cond" in batch:  # text condition: [B, L, D] states, [B, L] mask
        cond, cond_mask = batch["cond"], batch.get("cond_mask")
        if cond_drop > 0:
            cond, cond_mask, _ = drop_condition(k_drop, cond, cond_mask, cond_drop)
        loss = jnp.mean((model(x_t, t, cond, cond_mask) - target) ** 2)
        return loss, {"fm_loss": loss}
    label = batch.get("label")
    if label is not None and cond_drop > 0:
        if null_label is None:
            raise ValueError("cond_drop > 0 needs null_label (the model's null class, e.g. model.null_label)")
        label = drop_labels(k_drop, label, cond_drop, null_label)
    v = model(x_t, t, label) if label is not None else model(x_t, t)
    loss = jnp.mean((v - target) ** 2)
    return loss, {"fm_loss": loss}


@dataclasses.dataclass(frozen=True)
class FlowConfig:
    """The objective part of an experiment's config."""

    path: str = "ot"  # genlab.paths.affine.PATHS
    coupling: str = "independent"  # "independent" (I-CFM) or "ot" (OT-CFM, minibatch exact OT)
    t_sampler: str = "uniform"  # T_SAMPLERS
    cond_drop: float = 0.0  # probability of the null condition (needs labels)


def make_flow_loss(config: FlowConfig, null_label: int | None = None):
    """``loss_fn(model, batch, key) -> (loss, metrics)``: :func:`flow_loss` with ``config`` bound."""
    return functools.partial(flow_loss, path=AffinePath(config.path), coupling=coupling_named(config.coupling),
                             t_sampler=config.t_sampler, cond_drop=config.cond_drop, null_label=null_label)
