"""``genlab eval diffusion-vs-flow``: diffusion against flow matching, matched, on 2D data; where does each
claim of the lecture hold?

The lecture: a diffusion model removes noise "Schritt für Schritt" over many iterations; flow matching
"wendet diese einmalig deterministische Transformation an → Bild entsteht direkt". Here only the objective and
the sampler differ: the same ``MLPField`` (same config, same parameter count, same initial weights), the same
data stream, the same steps × batch, the same seeds (``genlab.experiments.dvf_setup``). Per data set (ring8,
grid25, moons) and seed, quality against the number of network evaluations (NFE ∈ {1, 2, 4, ..., 128}, and
1000 for DDPM) of every arm (:data:`ARMS`):

- diffusion (ε-prediction): DDPM, DDIM, DPM-Solver++(2M); its probability-flow ODE with Euler, Heun, Dopri5;
- flow matching (OT path): Euler, Heun, Dopri5; the 2-rectified flow: Euler.

Quality: VEEGAN modes and high-quality fraction (ring8, grid25), energy distance to held-out real samples (all).
Beside every model number stands its "perfect model": the same sampler on the exact field of the data's mixture
(ε* on the diffusion path, u* on the OT path), so that the gap between them is the model's error and the gap
between the perfect model and the data is the sampler's (discretisation) error. The field error against the
oracle, per t, in each model's own parameterisation (ε or velocity) and as the implied denoiser's error
(E‖x̂1 − E[x1 | x_t]‖² at matched signal-to-noise ratio: one currency for both). Dopri5 runs at several
tolerances and reports its NFE. The 2-rectified flow's own perfect model has no closed form (its field depends
on the coupling it was trained on): its rows carry none.

The latent text-to-image half (``latent``): prompt accuracy and FD against NFE of the shipped latent-diffusion
model (DDPM, DDIM, DPM-Solver++, its PF-ODE with Euler, Heun, Dopri5) and the shipped flow-latent models (flow
matching with Euler, Heun, Dopri5; the 2-rectified flow with Euler), same VAE, text encoder, prompts and noise
(:func:`genlab.experiments.dvf_latent.latent_text_to_image`). The variant ``latent-only`` runs that half alone.
"""

from __future__ import annotations

import dataclasses
import functools
import time
from pathlib import Path

import jax
import numpy as np
from flax import nnx

from genlab.data.toy2d import toy2d
from genlab.experiments import identity, register, register_demo
from genlab.experiments import dvf_setup as D
from genlab.experiments.dvf_setup import ARM, ARMS, Arm  # noqa: F401 (the arms, re-exported)
from genlab.experiments.dvf_summary import (closing_note, first_good_nfe, is_good, latent_closing_note,  # noqa: F401
                                            summarize)
from genlab.experiments import flow2d_setup as S
from genlab.experiments.dvf_latent import LatentPartConfig, latent_text_to_image
from genlab.experiments.flow2d import ReflowConfig
from genlab.models import num_params
from genlab.models.mlp_field import MLPField, MLPFieldConfig
from genlab.objectives.flow import FlowConfig, make_flow_loss
from genlab.paths.affine import AffinePath
from genlab.samplers.reflow import reflow_pairs
from genlab.train.configs import TrainConfig
from genlab.train.keys import eval_key
from genlab.train.optim import OptimConfig

DATASETS = ("ring8", "grid25", "moons")
NFE = (1, 2, 4, 8, 16, 32, 64, 128)


@dataclasses.dataclass(frozen=True)
class DVFEvalConfig:
    samples: int = 1000  # per sampler run (VEEGAN: 2500)
    nfe: tuple[int, ...] = NFE  # budgets of the fixed-step arms
    ddpm_full: int = 1000  # one more DDPM run with this many steps (0: none)
    tolerances: tuple[float, ...] = (1e-1, 1e-2, 1e-3, 1e-5)  # Dopri5 rtol = atol
    oracle_ts: tuple[float, ...] = (0.1, 0.3, 0.5, 0.7, 0.9, 0.97)  # OT times (diffusion: same SNR)
    oracle_points: int = 1000
    hq_min: float = 0.9  # "good" on a mixture: every mode covered and at least this high-quality fraction
    energy_max: float = 0.01  # "good" elsewhere (moons): energy distance at most this


@dataclasses.dataclass(frozen=True)
class DiffusionVsFlowConfig:
    model: MLPFieldConfig = MLPFieldConfig(width=128, depth=3)
    diffusion: D.DiffusionObjectiveConfig = D.DiffusionObjectiveConfig()
    # uniform t on the OT path, as the diffusion arm draws its steps uniformly (uniform in flow time on the VP path)
    flow: FlowConfig = FlowConfig()
    optim: OptimConfig = OptimConfig(learning_rate=2e-3, warmup_steps=100, clip_norm=1.0)
    # ring8, seed 0: 2,000 x 256 left both models short of the sharp modes (high quality: flow 47 %, diffusion 5 %),
    # 4,000 x 256 gave 86 / 29 %, 3,000 x 1,024 92 / 79 %, 6,000 x 512 95 / 91 % (flow Euler 32 / DDIM 128 steps)
    train: TrainConfig = TrainConfig(steps=5000, batch_size=512, log_every=500)  # each of diffusion and flow
    reflow: ReflowConfig = ReflowConfig(pairs=10_000, steps=64, train=TrainConfig(steps=1500, batch_size=512,
                                                                                  log_every=500))
    eval: DVFEvalConfig = DVFEvalConfig()
    datasets: tuple[str, ...] = DATASETS
    data_scales: tuple[tuple[str, float], ...] = (("grid25", 2.0),)  # the networks see x / scale
    latent: LatentPartConfig = LatentPartConfig()

    def scale(self, name: str) -> float:
        return dict(self.data_scales).get(name, 1.0)

    @classmethod
    def tiny(cls) -> DiffusionVsFlowConfig:
        return cls(model=MLPFieldConfig.tiny(), train=TrainConfig(steps=30, batch_size=64, log_every=10),
                   reflow=ReflowConfig(pairs=256, steps=4, train=TrainConfig(steps=20, batch_size=64, log_every=10)),
                   eval=DVFEvalConfig(samples=128, nfe=(1, 2), ddpm_full=0, tolerances=(1e-1,),
                                      oracle_ts=(0.5, 0.9), oracle_points=64), datasets=("ring8",),
                   latent=LatentPartConfig(nfe=(1, 2), per_class=1, fd_images=20, tolerances=(1e-1,)))

    @classmethod
    def cpu(cls) -> DiffusionVsFlowConfig:
        return cls()

    @classmethod
    def gpu(cls) -> DiffusionVsFlowConfig:
        return cls(model=MLPFieldConfig(width=256, depth=4), train=TrainConfig(steps=20_000, batch_size=1024),
                   reflow=ReflowConfig(pairs=100_000, steps=128, train=TrainConfig(steps=10_000, batch_size=1024)),
                   eval=DVFEvalConfig(samples=2500, oracle_points=4000),
                   latent=LatentPartConfig(per_class=50, fd_images=2000))


def flow_late(config: DiffusionVsFlowConfig) -> DiffusionVsFlowConfig:
    """flow-2d's recipe for the flow: training times weighted towards the data (the diffusion arm unchanged)."""
    return dataclasses.replace(config, flow=dataclasses.replace(config.flow, t_sampler="late"))


def latent_only(config: DiffusionVsFlowConfig) -> DiffusionVsFlowConfig:
    """The latent text-to-image half alone (no 2D data set)."""
    return dataclasses.replace(config, datasets=())


VARIANTS = {"matched": identity, "flow-late": flow_late, "latent-only": latent_only}


@dataclasses.dataclass
class Models:
    diffusion: MLPField
    flow: MLPField
    rectified: MLPField
    info: dict


def train_models(config: DiffusionVsFlowConfig, name: str, seed: int) -> Models:
    """The diffusion and flow networks (same initial weights, same data stream), then the 2-rectified flow."""
    data, scale = toy2d(name), config.scale(name)
    k_init, k_train, k_reflow = jax.random.split(jax.random.key(seed), 3)
    common = dict(data=data, scale=scale, batch_size=config.train.batch_size)
    diffusion = MLPField(config.model, rngs=nnx.Rngs(k_init))
    flow = MLPField(config.model, rngs=nnx.Rngs(k_init))
    d_loss = functools.partial(D.toy_diffusion_loss, schedule_config=config.diffusion.schedule,
                               path=AffinePath(config.diffusion.path), **common)
    f_loss = functools.partial(S.toy_loss, **common, **make_flow_loss(config.flow).keywords)
    h_d = S.train_flow(diffusion, d_loss, None, config.train, config.optim, k_train, desc=f"diffusion {name}")
    h_f = S.train_flow(flow, f_loss, None, config.train, config.optim, k_train, desc=f"flow {name}")

    rc = config.reflow
    k_pairs, k_fit = jax.random.split(k_reflow)
    x0, x1 = reflow_pairs(flow, k_pairs, (rc.pairs, 2), method=rc.method, steps=rc.steps)
    rectified = nnx.clone(flow)  # the 2-rectified flow starts from the 1-rectified weights (Liu et al. 2022)
    h_r = S.train_flow(rectified, make_flow_loss(dataclasses.replace(config.flow, coupling="independent")),
                       S.pair_batches(np.asarray(x0), np.asarray(x1), rc.train.batch_size, seed), rc.train,
                       rc.optim, k_fit, desc=f"reflow {name}")
    first = max(len(h_d.metrics["loss"]) // 20, 1)  # the mean of the first 5 % of the steps
    info = {"diffusion_loss": h_d.metrics["loss"][-1], "flow_loss": h_f.metrics["loss"][-1],
            "diffusion_loss_first": float(np.mean(h_d.metrics["loss"][:first])),
            "flow_loss_first": float(np.mean(h_f.metrics["loss"][:first])),
            "reflow_loss": h_r.metrics["loss"][-1], "train_seconds": h_d.wall_seconds + h_f.wall_seconds,
            "reflow_seconds": h_r.wall_seconds}
    return Models(diffusion, flow, rectified, info)


def _quality(x, name: str, real: np.ndarray, scale: float) -> dict:
    x = np.asarray(x) * scale
    if not np.all(np.isfinite(x)):
        num = len(toy2d(name).centers) if toy2d(name).centers is not None else None
        return {"modes_covered": 0, "num_modes": num, "high_quality": 0.0, "energy_distance": None, "finite": False}
    return S.quality(x, name, real)


def evaluate(config: DiffusionVsFlowConfig, name: str, models: Models, seed: int, with_oracle: bool = True) -> dict:
    """Every arm at every budget (model, and with ``with_oracle`` the perfect model on the same noise), Dopri5
    tolerances, DDPM at full length, and the field errors against the oracle."""
    ev, scale = config.eval, config.scale(name)
    mix = S.scaled_mixture(name, scale)
    k_z, k_real, k_ddpm, k_oracle = jax.random.split(eval_key(seed), 4)
    z = jax.random.normal(k_z, (ev.samples, 2))
    real = np.asarray(toy2d(name).sample(k_real, ev.samples))
    nets = {"diffusion": models.diffusion, "flow": models.flow, "rectified": models.rectified}

    def point(arm: Arm, steps: int = 0, rtol: float = 1e-5) -> dict:
        spec = arm.spec(config, steps, rtol)
        x, nfe, _ = D.sample_model(nets[arm.model], z, k_ddpm, spec=spec)  # compiled once for every data set
        out = {"steps": steps, "nfe": int(nfe), "model": _quality(x, name, real, scale)}
        if with_oracle and arm.model != "rectified":  # the rectified flow's own oracle has no closed form
            xo, nfe_o, _ = D.sample_oracle(z, k_ddpm, mix=mix, spec=spec)
            out |= {"perfect_model": _quality(xo, name, real, scale), "perfect_model_nfe": int(nfe_o)}
        return out

    table, adaptive = {}, {}
    for arm in ARMS:
        if arm.adaptive:
            adaptive[arm.name] = [{"rtol": tol, **point(arm, rtol=tol)} for tol in ev.tolerances]
        else:
            table[arm.name] = [None if (s := arm.steps_for(n)) is None else {"nfe_budget": n, **point(arm, s)}
                               for n in ev.nfe]
    out = {"table": table, "adaptive": adaptive}
    if ev.ddpm_full:
        out["ddpm_full"] = point(ARM["ddpm"], ev.ddpm_full)

    k0, k1 = jax.random.split(k_oracle)
    x0, x1 = jax.random.normal(k0, (ev.oracle_points, 2)), toy2d(name).sample(k1, ev.oracle_points) / scale
    path = AffinePath(config.diffusion.path)
    taus, _ = D.snr_matched(path, np.asarray(ev.oracle_ts))
    ts_j, taus_j = np.asarray(ev.oracle_ts, np.float32), np.asarray(taus, np.float32)
    errors = {"t": list(ev.oracle_ts), "tau_diffusion": [round(float(t), 5) for t in taus]}
    for kind, net in nets.items():
        native, data = D.field_errors(net, x0, x1, ts_j, taus_j, kind="diffusion" if kind == "diffusion" else "flow",
                                      mix=mix, path=path)
        errors[kind] = {("eps_mse" if kind == "diffusion" else "velocity_mse"): [float(v) for v in native],
                        "data_mse": [float(v) for v in data]}
    out["oracle_error"] = errors
    out["energy_floor"] = round(S.energy_distance(np.asarray(toy2d(name).sample(jax.random.fold_in(k_real, 1),
                                                                                ev.samples)), real), 5)
    return out


def run_seed(config: DiffusionVsFlowConfig, name: str, seed: int, with_oracle: bool = True) -> dict:
    """Train and evaluate one seed (the perfect models' curves, a property of the samplers, need one seed)."""
    start = time.perf_counter()
    models = train_models(config, name, seed)
    out = evaluate(config, name, models, seed, with_oracle)
    out["train"] = models.info
    out["seconds"] = time.perf_counter() - start
    return out


def trajectories(config: DiffusionVsFlowConfig, name: str, models: Models, *, points: int = 16, nfe: int = 16,
                 exact_steps: int = 128, seed: int = 0) -> dict[str, np.ndarray]:
    """``{label: xs [N + 1, points, 2]}`` (data units): every arm at budget ``nfe`` (Dopri5: its loosest tolerance,
    states at ``nfe`` points) from the same noise, and the exact PF-ODE and OT flow (``exact_steps`` Euler steps)."""
    scale, mix = config.scale(name), S.scaled_mixture(name, config.scale(name))
    k_z, k_ddpm = jax.random.split(jax.random.fold_in(eval_key(seed), 7))
    z = jax.random.normal(k_z, (points, 2))
    nets = {"diffusion": models.diffusion, "flow": models.flow, "rectified": models.rectified}
    out = {}
    for arm in ARMS:
        steps = nfe if arm.adaptive else arm.steps_for(nfe)
        if steps is None:
            continue
        spec = arm.spec(config, steps, max(config.eval.tolerances))
        _, nfe_used, xs = D.sample_model(nets[arm.model], z, k_ddpm, spec=spec, trajectory=True)
        out[f"{arm.label}, NFE {int(nfe_used)}"] = np.asarray(xs) * scale
    for label, family in (("exact diffusion PF-ODE", "diffusion"), ("exact flow (OT path)", "flow")):
        spec = D.SamplerSpec(family, "euler", exact_steps, 1e-5, config.diffusion.schedule,
                             config.diffusion.path if family == "diffusion" else config.flow.path)
        out[label] = np.asarray(D.sample_oracle(z, k_ddpm, mix=mix, spec=spec, trajectory=True)[2]) * scale
    return out


@register("diffusion-vs-flow", config=DiffusionVsFlowConfig, variants=VARIANTS, default_seeds=2,
          description="diffusion vs flow matching, matched: quality against NFE of every sampler, beside its oracle "
          "(2D); prompt accuracy and FD against NFE of the shipped text-to-image models (latent)")
def run(config: DiffusionVsFlowConfig, seeds: list[int]) -> dict:
    """``{data set: summary, "matched": ... (2D), "latent": ..., "closing_note": [...]}``."""
    summaries = {name: summarize(config, name, [run_seed(config, name, s, with_oracle=s == seeds[0]) for s in seeds])
                 for name in config.datasets}
    params = num_params(MLPField(config.model, rngs=nnx.Rngs(0)))
    latent = latent_text_to_image(config.latent, seeds)
    matched = {"params_each": params, "train_steps": config.train.steps, "batch_size": config.train.batch_size,
               "reflow_steps": config.reflow.train.steps, "seeds": list(seeds), "flow_t_sampler": config.flow.t_sampler}
    return {**summaries, **({"matched": matched} if summaries else {}),  # the 2D half's (the latent's: in latent)
            "latent": latent,
            "closing_note": (closing_note(summaries, config.eval) if summaries else []) + latent_closing_note(latent)}


# ---- the demo part ------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class DiffusionVsFlowDemoConfig:
    """One data set, one seed of the experiment, and the shipped text-to-image models' images per NFE."""

    run: DiffusionVsFlowConfig = dataclasses.replace(DiffusionVsFlowConfig.cpu(), datasets=("ring8",))
    data: str = "ring8"
    trajectory_nfe: int = 8  # every arm's trajectories at this budget
    animation_points: int = 400
    animated: tuple[str, ...] = ("ddpm", "ddim", "flow_euler", "rf2_euler")
    latent_nfe: tuple[int, ...] = (1, 2, 4, 8, 16, 32)
    latent_prompts: tuple[str, ...] = ("a t-shirt", "trousers", "a sneaker", "a bag")
    guidance: float = 3.0

    @classmethod
    def tiny(cls) -> DiffusionVsFlowDemoConfig:
        return cls(run=DiffusionVsFlowConfig.tiny(), trajectory_nfe=2, animation_points=64, latent_nfe=(1, 2),
                   latent_prompts=("a sneaker", "a bag"))

    @classmethod
    def cpu(cls) -> DiffusionVsFlowDemoConfig:
        return cls()

    @classmethod
    def gpu(cls) -> DiffusionVsFlowDemoConfig:
        return cls(run=dataclasses.replace(DiffusionVsFlowConfig.gpu(), datasets=("ring8",)))


@register_demo("diffusion_vs_flow", config=DiffusionVsFlowDemoConfig, order=50)
def make_demo(config: DiffusionVsFlowDemoConfig, out_dir: Path) -> list[Path]:
    """Quality against NFE, trajectories and a GIF from the same noise, field errors, the closing note (one seed
    on ``config.data``), and the shipped text-to-image models' images per NFE: latent diffusion (DDIM,
    DPM-Solver++, DDPM) beside flow matching and the 2-rectified flow (Euler), same prompts and noise."""
    from genlab.demos.diffusion_vs_flow import write_dvf_demo
    from genlab.experiments.dvf_latent import latent_images_per_nfe, sampling_guidance, shipped_pipelines

    run_cfg, name = config.run, config.data
    models = train_models(run_cfg, name, 0)
    summary = summarize(run_cfg, name, [{**evaluate(run_cfg, name, models, 0), "train": models.info, "seconds": 0.0}])
    paths = trajectories(run_cfg, name, models, points=config.animation_points, nfe=config.trajectory_nfe)
    labels = {a.name: a.label for a in ARMS}
    animated = [next(k for k in paths if k.startswith(ARM[a].label + ",")) for a in config.animated]
    w = sampling_guidance(config.guidance)
    latent = latent_images_per_nfe(shipped_pipelines(), config.latent_prompts, config.latent_nfe, guidance=w)
    note = closing_note({name: summary}, run_cfg.eval) + [
        "latent text-to-image: the image grid shows the shipped latent-diffusion, flow-matching and 2-rectified "
        "models from the same prompts and noise; their prompt accuracy and FD against NFE: genlab eval "
        "diffusion-vs-flow --variant latent-only"]
    return write_dvf_demo(out_dir, summary, labels, paths, toy2d(name).centers, note, animated=animated,
                          latent=latent, latent_title="shipped text-to-image models, same prompts and noise: "
                          + ", ".join(config.latent_prompts) + f" (w = {w['diffusion']:g}; 2-rectified flow: "
                          f"w = {w['rectified']:g}, its guidance is in its reflow pairs)")
