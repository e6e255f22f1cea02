"""ODE solvers for flows: ``dx/dt = v(x, t)`` from t0 to t1 (noise at t = 0, data at t = 1).

- Fixed-step Euler, midpoint, Heun and classical RK4 as one compiled ``lax.scan`` over a uniform grid with a
  static number of steps; the number of function evaluations (NFE) is exact: steps × stages (1, 2, 2, 4).
- Dopri5 (Dormand & Prince 1980, 5th order with an embedded 4th-order error estimate, adaptive steps) through
  diffrax; its NFE is counted from the solver's statistics (:func:`dopri5_nfe`).

A field is any function ``field(x, t) -> dx`` with ``x`` a pytree of ``[B, ...]`` arrays and ``t`` a scalar;
:func:`model_field` makes one from a class-conditioned model (with classifier-free guidance),
:func:`text_field` from a text-conditioned U-Net ``model(x, t, cond, cond_mask)``, ``genlab.paths.oracle.field``
from a Gaussian mixture. :func:`sample_flow` and :func:`sample_text_flow` are the compiled entry points.
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import diffrax
import jax
import jax.numpy as jnp
from flax import nnx

from genlab.objectives.diffusion import null_condition
from genlab.samplers.guidance import model_output

STAGES = {"euler": 1, "midpoint": 2, "heun": 2, "rk4": 4}  # field evaluations per step
ORDERS = {"euler": 1, "midpoint": 2, "heun": 2, "rk4": 4, "dopri5": 5}


class ODESolution(NamedTuple):
    x: Any  # the state at t1 (same pytree as the start)
    nfe: Any  # function evaluations: an int for fixed steps, a scalar int array for dopri5
    xs: Any = None  # [steps + 1, ...] the state on the grid (trajectory=True), else None
    ts: Any = None  # [steps + 1] the grid (trajectory=True), else None


def _add(x, *terms):
    """x + Σ c_i k_i over pytrees, for ``terms = ((c_1, k_1), ...)``."""
    for c, k in terms:
        x = jax.tree.map(lambda xi, ki, c=c: xi + c * ki, x, k)
    return x


def step(field, x, t, h, method: str):
    """One step of ``method`` from ``(x, t)`` with step ``h`` (may be negative)."""
    if method == "euler":
        return _add(x, (h, field(x, t)))
    if method == "midpoint":
        k1 = field(x, t)
        return _add(x, (h, field(_add(x, (0.5 * h, k1)), t + 0.5 * h)))
    if method == "heun":  # explicit trapezoid (Heun's 2nd-order method)
        k1 = field(x, t)
        k2 = field(_add(x, (h, k1)), t + h)
        return _add(x, (0.5 * h, k1), (0.5 * h, k2))
    if method == "rk4":
        k1 = field(x, t)
        k2 = field(_add(x, (0.5 * h, k1)), t + 0.5 * h)
        k3 = field(_add(x, (0.5 * h, k2)), t + 0.5 * h)
        k4 = field(_add(x, (h, k3)), t + h)
        return _add(x, (h / 6, k1), (h / 3, k2), (h / 3, k3), (h / 6, k4))
    raise ValueError(f"unknown fixed-step method {method!r}: choose one of {', '.join(STAGES)} (or dopri5)")


def odeint(field, x, *, method: str = "euler", steps: int = 100, t0: float = 0.0, t1: float = 1.0,
           trajectory: bool = False) -> ODESolution:
    """Integrate ``field`` from ``t0`` to ``t1`` in ``steps`` uniform steps (a static number) under ``lax.scan``.

    x: pytree of ``[B, ...]`` arrays. Returns the end state, ``nfe = steps * STAGES[method]`` and, with
    ``trajectory``, the states on the grid ``xs: [steps + 1, B, ...]`` and the grid ``ts: [steps + 1]``.
    """
    if method == "dopri5":
        return dopri5(field, x, t0=t0, t1=t1, trajectory_steps=steps if trajectory else 0)
    if method not in STAGES:
        raise ValueError(f"unknown method {method!r}: choose one of {', '.join(STAGES)}, dopri5")
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    ts = jnp.linspace(t0, t1, steps + 1)  # [steps + 1] (float64 only under x64)

    def body(x, t_pair):
        t, t_next = t_pair[0], t_pair[1]
        x = step(field, x, t, t_next - t, method)
        return x, (x if trajectory else None)

    x_end, xs = jax.lax.scan(body, x, jnp.stack([ts[:-1], ts[1:]], axis=1))
    nfe = steps * STAGES[method]
    if not trajectory:
        return ODESolution(x_end, nfe)
    xs = jax.tree.map(lambda x0_, rest: jnp.concatenate([x0_[None], rest]), x, xs)
    return ODESolution(x_end, nfe, xs, ts)


def dopri5_nfe(stats: dict) -> jax.Array:
    """Field evaluations of a diffrax Dopri5 solve started with ``dt0=None`` (as :func:`dopri5` does), from its
    ``stats``: 6 per attempted step, accepted or rejected (7 stages, the last reused as the next step's first:
    FSAL), plus 1 at the start. Measured by counting calls (tests/test_ode.py), diffrax 0.7.2."""
    return 6 * stats["num_steps"] + 1


def dopri5(field, x, *, t0: float = 0.0, t1: float = 1.0, rtol: float = 1e-5, atol: float = 1e-5,
           max_steps: int = 4096, trajectory_steps: int = 0) -> ODESolution:
    """Adaptive Dopri5 (diffrax, PID step-size control, one step size for the whole batch).

    trajectory_steps > 0: also return the dense solution at that many uniform steps (``xs``, ``ts``).
    """
    term = diffrax.ODETerm(lambda t, y, args: field(y, t))
    ts = jnp.linspace(t0, t1, trajectory_steps + 1) if trajectory_steps else None
    saveat = diffrax.SaveAt(ts=ts) if trajectory_steps else diffrax.SaveAt(t1=True)
    sol = diffrax.diffeqsolve(term, diffrax.Dopri5(), t0, t1, dt0=None, y0=x, saveat=saveat,
                              stepsize_controller=diffrax.PIDController(rtol=rtol, atol=atol),
                              max_steps=max_steps)
    x_end = jax.tree.map(lambda y: y[-1], sol.ys)
    nfe = dopri5_nfe(sol.stats)
    return ODESolution(x_end, nfe, sol.ys, ts) if trajectory_steps else ODESolution(x_end, nfe)


def model_field(model, label: jax.Array | None = None, guidance: float = 1.0, null_label: int | None = None):
    """``field(x, t)`` of ``model(x, t[, label])``; with ``guidance != 1`` classifier-free guidance as one batched
    call on ``[x; x]`` with ``[label; null]``: v = v_null + w (v_cond − v_null) (w = 1 unguided)."""
    if label is None:
        return lambda x, t: model(x, jnp.full(x.shape[:1], t, jnp.float32))
    if guidance == 1.0:
        return lambda x, t: model(x, jnp.full(x.shape[:1], t, jnp.float32), label)
    null = null_label if null_label is not None else model.null_label
    labels = jnp.concatenate([label, jnp.full_like(label, null)])

    def guided(x, t):
        v = model(jnp.concatenate([x, x]), jnp.full((2 * x.shape[0],), t, jnp.float32), labels)
        v_cond, v_null = jnp.split(v, 2)
        return v_null + guidance * (v_cond - v_null)

    return guided


@functools.partial(nnx.jit, static_argnames=("method", "steps", "trajectory", "guidance"))
def sample_flow(model, x0: jax.Array, label: jax.Array | None = None, *, method: str = "euler", steps: int = 100,
                guidance: float = 1.0, trajectory: bool = False) -> ODESolution:
    """Push noise ``x0: [B, ...]`` through the model's flow from t = 0 to 1 (compiled once per setting)."""
    return odeint(model_field(model, label, guidance), x0, method=method, steps=steps, trajectory=trajectory)


def text_field(model, cond: jax.Array, cond_mask: jax.Array, guidance: jax.Array | float = 1.0, *,
               guided: bool = False, null_cond: jax.Array | None = None, null_mask: jax.Array | None = None):
    """``field(x, t)`` of a text-conditioned network ``model(x, t, cond, cond_mask)`` read as a velocity at flow time
    ``t`` in [0, 1] (a float: the U-Net embeds it as a continuous time). ``guided``: classifier-free guidance as
    one batched call on ``[x; x]`` with ``[cond; null]``, ``v = v_null + w (v_cond − v_null)``, the null condition
    as in training (default: every token masked out). cond: [B, L, D], cond_mask: [B, L] bool."""
    if guided:
        null_cond, null_mask = null_condition(cond, null_cond, null_mask)

    def field(x, t):
        return model_output(model, x, jnp.asarray(t, jnp.float32), cond, cond_mask, null_cond, null_mask,
                            guidance, guided)

    return field


@functools.partial(nnx.jit, static_argnames=("method", "steps", "guided", "trajectory"))
def sample_text_flow(model, x0: jax.Array, cond: jax.Array, cond_mask: jax.Array, guidance: jax.Array, *,
                     method: str = "euler", steps: int = 8, guided: bool = True,
                     trajectory: bool = False) -> ODESolution:
    """Push noise ``x0: [B, h, w, c]`` through a text-conditioned flow from t = 0 to 1, compiled once per
    (method, steps, guided, shapes); ``guidance`` is an array, so one compilation serves a guidance sweep."""
    field = text_field(model, cond, cond_mask, guidance, guided=guided)
    return odeint(field, x0, method=method, steps=steps, trajectory=trajectory)
