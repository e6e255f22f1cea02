"""The arms of ``diffusion-vs-flow`` on 2D data: one network, two objectives, many samplers, and their oracles.

Models (one ``MLPField`` each, same config, same initial weights, same data stream, same steps × batch):

- ``diffusion``: ε-prediction with genlab's diffusion objective (``genlab.objectives.diffusion``: discrete
  linear schedule, T = 1000, uniform steps); the network reads the step as its flow time on the VP path
  (``genlab.samplers.pf_ode.step_network``), so it is also a time-continuous ε-field;
- ``flow``: conditional flow matching on the OT path (``genlab.objectives.flow``), as ``flow-2d`` trains it;
- ``rectified``: the 2-rectified flow, the flow trained further on its own simulated pairs (more training:
  the reflow budget comes on top).

A sampler is a :class:`SamplerSpec`; :func:`sample_model` and :func:`sample_oracle` run one on a trained
network or on the exact field of the data's Gaussian mixture (the "perfect model": same sampler, same
noise, no model error). Every sampler is one compiled program (``lax.scan`` or diffrax).
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from genlab.data.toy2d import Toy2D
from genlab.objectives.diffusion import diffusion_loss
from genlab.paths import oracle
from genlab.paths.affine import AffinePath, convert
from genlab.samplers.diffusion import SamplerConfig, sample_loop
from genlab.samplers.ode import dopri5, odeint
from genlab.samplers.pf_ode import flow_time_of_abar, network_eps, oracle_eps, pf_ode, solve_range, step_network
from genlab.schedules.diffusion import ScheduleConfig, make_schedule

DISCRETE = ("ddpm", "ddim", "dpmpp_2m")  # genlab.samplers.diffusion
ODE_METHODS = ("euler", "heun", "dopri5")  # genlab.samplers.ode


@dataclasses.dataclass(frozen=True)
class DiffusionObjectiveConfig:
    """The diffusion arm's objective: ε-prediction on a discrete schedule, read as the ``path`` (VP) in flow time."""

    schedule: ScheduleConfig = ScheduleConfig(kind="linear", num_timesteps=1000)
    path: str = "vp"  # the continuous path of the schedule: vp (β ∈ [0.1, 20] = DDPM's linear × T)


@dataclasses.dataclass(frozen=True)
class SamplerSpec:
    """One sampler run: the model family it belongs to, the method and its size. Hashable (a static argument)."""

    family: str  # "diffusion" (ε-network) or "flow" (velocity network)
    method: str  # DISCRETE (diffusion only) or ODE_METHODS
    steps: int = 0  # solver steps (dopri5: trajectory points only)
    rtol: float = 1e-5  # dopri5: rtol = atol
    schedule: ScheduleConfig = ScheduleConfig()
    path: str = "ot"  # flow: ot; diffusion: the objective's path (vp)


@dataclasses.dataclass(frozen=True)
class Arm:
    """A model and a sampler. ``model``: "diffusion", "flow" or "rectified"; ``method``: ``dvf_setup.DISCRETE``
    or ``dvf_setup.ODE_METHODS``."""

    name: str
    label: str
    model: str
    method: str

    @property
    def family(self) -> str:
        return "diffusion" if self.model == "diffusion" else "flow"

    @property
    def adaptive(self) -> bool:
        return self.method == "dopri5"

    def steps_for(self, nfe: int) -> int | None:
        """The most steps whose NFE is at most ``nfe`` (None: the arm cannot run on that budget). The PF-ODE pays
        one evaluation for its final denoising jump; its Euler with one NFE is that jump alone."""
        if self.method in DISCRETE:
            return nfe
        stages = 2 if self.method == "heun" else 1
        denoise = 1 if self.family == "diffusion" else 0
        steps = (nfe - denoise) // stages
        lowest = 0 if (denoise and self.method == "euler") else 1
        return steps if steps >= lowest else None

    def spec(self, config, steps: int = 0, rtol: float = 1e-5) -> SamplerSpec:
        obj = config.diffusion
        return SamplerSpec(self.family, self.method, steps, rtol, obj.schedule,
                             obj.path if self.family == "diffusion" else config.flow.path)


ARMS = (
    Arm("ddpm", "DDPM", "diffusion", "ddpm"),
    Arm("ddim", "DDIM", "diffusion", "ddim"),
    Arm("dpm_solver", "DPM-Solver++(2M)", "diffusion", "dpmpp_2m"),
    Arm("pf_euler", "diffusion PF-ODE, Euler", "diffusion", "euler"),
    Arm("pf_heun", "diffusion PF-ODE, Heun", "diffusion", "heun"),
    Arm("pf_dopri5", "diffusion PF-ODE, Dopri5", "diffusion", "dopri5"),
    Arm("flow_euler", "flow matching, Euler", "flow", "euler"),
    Arm("flow_heun", "flow matching, Heun", "flow", "heun"),
    Arm("flow_dopri5", "flow matching, Dopri5", "flow", "dopri5"),
    Arm("rf2_euler", "2-rectified flow, Euler", "rectified", "euler"),
)
ARM = {a.name: a for a in ARMS}


def toy_diffusion_loss(model, batch, key, *, data: Toy2D, scale: float, batch_size: int,
                       schedule_config: ScheduleConfig, path: AffinePath):
    """:func:`diffusion_loss` (ε, unconditional) on a fresh batch of ``data / scale`` drawn from the key.

    The key is split as ``flow2d_setup.toy_loss`` splits it, so both arms see the same data at every step."""
    k_data, k_loss = jax.random.split(key)
    schedule = make_schedule(schedule_config)
    return diffusion_loss(step_network(model, schedule, path), {"x0": data.sample(k_data, batch_size) / scale},
                          k_loss, schedule=schedule, prediction="eps", cond_drop=0.0)


def _fn_of(net):
    return lambda x, t: net(x, jnp.broadcast_to(jnp.asarray(t, jnp.float32), x.shape[:1]))


def _sample(fn, z, key, spec: SamplerSpec, trajectory: bool):
    """``fn(x, τ) -> ε̂`` (diffusion) or ``v̂`` (flow) -> ``(x: [B, d], nfe, xs: [N, B, d] or None)``."""
    path = AffinePath(spec.path)
    if spec.family == "diffusion" and spec.method in DISCRETE:
        schedule = make_schedule(spec.schedule)
        out = sample_loop(step_network(fn, schedule, path), z, schedule, key,
                          config=SamplerConfig(sampler=spec.method, steps=spec.steps), return_trajectory=trajectory)
        return out.x0, spec.steps, out.trajectory.x_t if trajectory else None
    if spec.family == "diffusion":
        t0, t1 = solve_range(make_schedule(spec.schedule), path)
        sol = pf_ode(network_eps(fn), z, path, t0=t0, t1=t1, method=spec.method, steps=spec.steps, rtol=spec.rtol,
                     trajectory=trajectory)
        return sol.x, sol.nfe, sol.xs
    if spec.method == "dopri5":
        sol = dopri5(fn, z, rtol=spec.rtol, atol=spec.rtol, trajectory_steps=spec.steps if trajectory else 0)
    else:
        sol = odeint(fn, z, method=spec.method, steps=spec.steps, trajectory=trajectory)
    return sol.x, sol.nfe, sol.xs


def _oracle_fn(mix: oracle.GaussianMixture, spec: SamplerSpec):
    path = AffinePath(spec.path)
    return oracle_eps(mix, path) if spec.family == "diffusion" else oracle.field(mix, path)


@functools.partial(nnx.jit, static_argnames=("spec", "trajectory"))
def sample_model(net, z, key, *, spec: SamplerSpec, trajectory: bool = False):
    """``(x, nfe, xs)``: noise ``z: [B, d]`` through the trained ``net`` with ``spec`` (``key``: DDPM's noise)."""
    return _sample(_fn_of(net), z, key, spec, trajectory)


@functools.partial(jax.jit, static_argnames=("mix", "spec", "trajectory"))
def sample_oracle(z, key, *, mix: oracle.GaussianMixture, spec: SamplerSpec, trajectory: bool = False):
    """The same with the exact field of ``mix`` (ε on the diffusion path, velocity on the OT path)."""
    return _sample(_oracle_fn(mix, spec), z, key, spec, trajectory)


def snr_matched(path: AffinePath, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For OT times ``t`` (a = t, b = 1 − t): the flow times τ on the variance-preserving ``path`` with the same
    signal-to-noise ratio, and the factor ``c = 1 / √(t² + (1 − t)²)`` with x_τ = c x_t (same x0, x1)."""
    t = np.asarray(t, np.float64)
    norm = np.sqrt(t**2 + (1.0 - t) ** 2)
    return flow_time_of_abar(path, (t / norm) ** 2), 1.0 / norm


@functools.partial(nnx.jit, static_argnames=("kind", "mix", "path"))
def field_errors(net, x0, x1, ts, taus, *, kind: str, mix: oracle.GaussianMixture, path: AffinePath):
    """``(native [T], data [T])`` at OT times ``ts: [T]`` (SNR-matched flow times ``taus: [T]`` on ``path``), on
    points from independent pairs ``x0, x1: [N, d]``:

    - native: E‖ε̂ − ε*‖² (``kind="diffusion"``, on ``path``) or E‖v̂ − u*‖² (``kind="flow"``, on the OT path);
    - data: E‖x̂1 − E[x1 | x_t]‖², the error of the implied denoiser, the same target for both kinds.
    """
    ot = AffinePath("ot")

    def at(pair):
        t, tau = pair
        x_ot, _ = ot.sample(x0, x1, jnp.full(x0.shape[:1], t))
        target = oracle.posterior_mean(mix, ot, x_ot, t)  # [N, d]
        if kind == "diffusion":
            x_t, _ = path.sample(x0, x1, jnp.full(x0.shape[:1], tau))
            eps = net(x_t, jnp.full(x0.shape[:1], tau))
            native = eps - oracle_eps(mix, path)(x_t, tau)
            data = convert(path, eps, x_t, tau, "eps", "data")
        else:
            v = net(x_ot, jnp.full(x0.shape[:1], t))
            native = v - oracle.velocity(mix, ot, x_ot, t)
            data = convert(ot, v, x_ot, t, "velocity", "data")
        return jnp.mean(jnp.sum(native**2, 1)), jnp.mean(jnp.sum((data - target) ** 2, 1))

    return jax.lax.map(at, (ts, taus))
