"""2D flow matching runs: data at unit scale, oracles per data set, training, and the evaluations of ``flow-2d``.

The network sees data divided by a per-set ``data_scale`` (as the 2D GAN code does) and the flow runs from
N(0, I) to that; samples are multiplied back before any metric, and log-densities get −d log(scale).
Oracles (in the network's coordinates): ring8 and grid25 are exactly their mixtures; moons is a mixture of
N(c, 0.05² I) over points c spread densely along its two arcs (toy2d's moons *is* arc + N(0, 0.05²), so this
is exact up to the discretisation of the arc); checkerboard uses the empirical oracle (σ → 0) of many draws.
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from genlab.data.toy2d import Toy2D, toy2d
from genlab.metrics.energy import energy_distance  # noqa: F401 (re-exported for flow2d)
from genlab.metrics.modes import mode_stats
from genlab.objectives.flow import flow_loss
from genlab.paths import oracle
from genlab.paths.affine import AffinePath
from genlab.samplers.likelihood import log_likelihood
from genlab.samplers.ode import model_field, odeint
from genlab.train import fit
from genlab.train.optim import make_optimizer
from genlab.train.steps import make_train_step

MOONS_SIGMA = 0.05  # toy2d's moons noise
CHECKERBOARD_LOG_DENSITY = -math.log(8.0)  # uniform on 8 unit squares


def moons_mixture(points_per_arc: int = 1000) -> oracle.GaussianMixture:
    """toy2d's moons as a mixture: arcs (cos s, sin s) and (1 − cos s, 0.5 − sin s), s ∈ [0, π], shifted by
    −(0.5, 0.25), each point blurred by N(0, 0.05² I)."""
    s = np.pi * (np.arange(points_per_arc) + 0.5) / points_per_arc
    upper = np.stack([np.cos(s), np.sin(s)], 1)
    lower = np.stack([1.0 - np.cos(s), 0.5 - np.sin(s)], 1)
    return oracle.GaussianMixture.isotropic(np.concatenate([upper, lower]) - np.array([0.5, 0.25]), MOONS_SIGMA)


@functools.lru_cache(maxsize=None)
def data_mixture(name: str, empirical_points: int = 4096) -> tuple[oracle.GaussianMixture, bool]:
    """``(mixture, exact)`` in data units: the oracle's data distribution and whether it is the true one."""
    data = toy2d(name)
    if data.centers is not None:
        return oracle.GaussianMixture.isotropic(data.centers, data.sigma), True
    if name == "moons":
        return moons_mixture(), True
    return oracle.GaussianMixture.empirical(data.sample_np(123_456, empirical_points)), False


@functools.lru_cache(maxsize=None)
def scaled_mixture(name: str, scale: float) -> oracle.GaussianMixture:
    """The oracle's mixture in network coordinates (x / scale); one object per set, so compiled samplers that
    take it as a static argument are reused across seeds."""
    return data_mixture(name)[0].scaled(scale)


def oracle_kind(name: str) -> str:
    if toy2d(name).centers is not None:
        return "exact mixture"
    return "arc mixture, sigma 0.05 (exact up to the arc's discretisation)" if name == "moons" else \
        "empirical (sigma -> 0) of 4096 draws"


def true_log_prob(name: str, x: np.ndarray) -> np.ndarray | None:
    """The true log-density of ``x: [N, 2]`` (data units) where it is known, else None."""
    if name == "checkerboard":
        return np.full(len(x), CHECKERBOARD_LOG_DENSITY)  # held-out real points lie on the board
    mix, exact = data_mixture(name)
    return np.asarray(oracle.log_prob(mix, jnp.asarray(x))) if exact else None


def toy_loss(model, batch, key, *, data: Toy2D, scale: float, batch_size: int, **loss_kwargs):
    """:func:`flow_loss` on a fresh batch of ``data`` drawn from the key, divided by ``scale`` (``batch`` unused)."""
    k_data, k_loss = jax.random.split(key)
    return flow_loss(model, {"x1": data.sample(k_data, batch_size) / scale}, k_loss, **loss_kwargs)


def pair_batches(x0: np.ndarray, x1: np.ndarray, batch_size: int, seed: int):
    """``batches(step) -> {"x0", "x1"}``: ``batch_size`` reflow pairs drawn with replacement, a pure function of
    ``(seed, step)``."""

    def batches(step: int) -> dict:
        idx = np.random.default_rng([seed, step]).integers(0, len(x0), batch_size)
        return {"x0": x0[idx], "x1": x1[idx]}

    return batches


STEPS_PER_CALL = 50  # training steps per compiled call (a lax.scan): a 2D MLP step is mostly dispatch


def train_flow(model, loss_fn, batches, train_cfg, optim_cfg, key, *, callbacks=(), callback_every=0,
               desc="flow"):
    """Train ``model`` in place with ``loss_fn`` through ``genlab.train.fit`` -> history, ``STEPS_PER_CALL`` steps
    per compiled call: the per-step Python and dispatch overhead otherwise dominates for a 2D MLP."""
    optimizer = make_optimizer(model, optim_cfg, train_cfg.steps)
    return fit((model, optimizer), make_train_step(loss_fn), batches, steps=train_cfg.steps, key=key,
               log_every=train_cfg.log_every, callbacks=callbacks, callback_every=callback_every, progress=False,
               desc=desc, steps_per_call=STEPS_PER_CALL)


@functools.partial(nnx.jit, static_argnames=("method", "steps"))
def sample_model(model, z, *, method: str, steps: int):
    """``(x: [B, 2], nfe)``: noise ``z`` pushed through the model's flow (network coordinates)."""
    sol = odeint(model_field(model), z, method=method, steps=steps)
    return sol.x, sol.nfe


@functools.partial(jax.jit, static_argnames=("method", "steps", "mix", "path"))
def sample_oracle(z, *, mix, path, method: str, steps: int):
    """The same with the oracle field (the "perfect model")."""
    sol = odeint(oracle.field(mix, path), z, method=method, steps=steps)
    return sol.x, sol.nfe


@functools.partial(nnx.jit, static_argnames=("mix", "path"))
def oracle_mse(model, x0, x1, ts, *, mix, path):
    """``[T]``: E‖v_θ(x_t, t) − u*(x_t, t)‖² at each ``t`` in ``ts``; x_t from independent pairs ``x0, x1: [N, 2]``
    (the marginal of the I-CFM path)."""

    def at(t):
        x_t, _ = path.sample(x0, x1, jnp.full(x0.shape[:1], t))
        diff = model(x_t, jnp.full(x0.shape[:1], t)) - oracle.velocity(mix, path, x_t, t)
        return jnp.mean(jnp.sum(diff**2, axis=1))

    return jax.lax.map(at, ts)


def oracle_error_callback(mix, path: AffinePath, data: Toy2D, scale: float, key, ts, n: int):
    """``cb(step, objects, history) -> {"oracle_mse": [per t]}`` on fixed points, for ``fit``."""
    k0, k1 = jax.random.split(key)
    x0, x1 = jax.random.normal(k0, (n, 2)), data.sample(k1, n) / scale
    ts = jnp.asarray(ts, jnp.float32)

    def callback(step, objects, history):
        return {"oracle_mse": [float(v) for v in oracle_mse(objects[0], x0, x1, ts, mix=mix, path=path)]}

    return callback


def quality(x: np.ndarray, name: str, real: np.ndarray) -> dict:
    """Sample quality in data units: VEEGAN modes and high-quality fraction (mixtures), energy distance."""
    data = toy2d(name)
    if not np.all(np.isfinite(x)):
        return {"finite": False}
    out = {}
    if data.centers is not None:
        s = mode_stats(x, data.centers, data.sigma)
        out = {"modes_covered": s.modes_covered, "num_modes": s.num_modes,
               "high_quality": round(s.high_quality_fraction, 4)}
    out["energy_distance"] = round(energy_distance(x, real), 5)
    return out


def _nll_value(ll, scale: float) -> tuple[float, int]:
    return float(-jnp.mean(ll.log_prob)) + 2 * math.log(scale), int(ll.nfe)


@functools.partial(nnx.jit, static_argnames=("method", "steps"))
def _model_ll(model, y, *, method, steps):
    return log_likelihood(model_field(model), y, method=method, steps=steps)


@functools.partial(jax.jit, static_argnames=("mix", "path", "method", "steps"))
def _oracle_ll(y, *, mix, path, method, steps):
    return log_likelihood(oracle.field(mix, path), y, method=method, steps=steps)


def model_nll(model, x: np.ndarray, scale: float, method: str, steps: int) -> tuple[float, int]:
    """``(NLL, NFE)``: mean negative log-likelihood (nats, data units: −log p(x / s) + d log s) of ``x: [N, 2]``."""
    return _nll_value(_model_ll(model, jnp.asarray(x / scale), method=method, steps=steps), scale)


def oracle_nll(mix, path, x: np.ndarray, scale: float, method: str, steps: int) -> tuple[float, int]:
    """The same for the oracle flow (the "perfect model"): equals the true NLL up to the solver's error."""
    return _nll_value(_oracle_ll(jnp.asarray(x / scale), mix=mix, path=path, method=method, steps=steps), scale)


def mean_tree(trees: list):
    """Average numeric leaves of same-shaped dicts/lists over seeds (bools, strings, None: the first's)."""
    first = trees[0]
    if isinstance(first, dict):
        return {k: mean_tree([t[k] for t in trees]) for k in first}
    if isinstance(first, (list, tuple)):
        return [mean_tree(list(leaves)) for leaves in zip(*trees)]
    if first is None or isinstance(first, (bool, str)):
        return first
    if all(isinstance(v, int) for v in trees) and len(set(trees)) == 1:
        return first  # counts that do not vary (num_modes, steps, nfe) stay ints
    return float(np.mean(trees))


def _rounded(tree, digits: int = 5):
    if isinstance(tree, dict):
        return {k: _rounded(v, digits) for k, v in tree.items()}
    if isinstance(tree, list):
        return [_rounded(v, digits) for v in tree]
    return round(tree, digits) if isinstance(tree, float) else tree


def summarize(name: str, runs: list[dict], config) -> dict:
    """One data set's JSON object: the issue's keys first, then the tables, then per-seed numbers."""
    m = mean_tree(runs)
    reflowed = "reflow" in m
    final = m["reflow"]["rounds"][-1]["main"] if reflowed else m["main"]["model"]
    out = {}
    if "modes_covered" in final:
        out |= {"modes_covered_mean": final["modes_covered"], "num_modes": final["num_modes"],
                "high_quality_mean": final["high_quality"]}
    out |= {"nfe": int(m["main"]["nfe"]), "sampler": f"{config.eval.method} x {config.eval.steps}",
            "energy_distance_mean": final["energy_distance"], "energy_distance_floor": m["energy_floor"]}
    if reflowed:
        before, after = m["reflow"]["before"]["straightness"], m["reflow"]["rounds"][0]["straightness"]
        out |= {"straightness_before": before, "straightness_after": after, "straightness_ratio": before / after,
                "before_reflow": m["main"]["model"], "reflow": m["reflow"]}
    out |= {"perfect_model": m["main"]["perfect_model"], "nll_mean": m["nll"], "nll_true": m["nll_true"],
            "nll_perfect_model": m.get("nll_perfect_model"), "nll_nfe": m["nll_nfe"],
            "straightness_mean": m["straightness"], "straightness_perfect_model": m["straightness_perfect_model"],
            "oracle": oracle_kind(name), "oracle_error_per_t": m["oracle_error"], "quality_vs_nfe": m["quality_vs_nfe"],
            "final_loss": m["final_loss"], "train_seconds_mean": m["train_seconds"], "seconds_mean": m["seconds"],
            "seconds_max": max(r["seconds"] for r in runs), "cpu_seconds_mean": m["cpu_seconds"],
            "per_seed": [{"main": r["reflow"]["rounds"][-1]["main"] if reflowed else r["main"]["model"],
                          "straightness": r["straightness"], "seconds": r["seconds"],
                          **({"straightness_after": r["reflow"]["rounds"][0]["straightness"]} if reflowed else {})}
                         for r in runs]}
    return _rounded(out)
