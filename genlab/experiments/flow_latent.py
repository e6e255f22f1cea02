"""``genlab eval flow-latent``: the latent text-to-image model trained by flow matching, then reflowed.

Does flow matching "transform noise into an image directly"? The same U-Net, VAE latents, frozen text encoder,
captions, condition dropout, EMA and training budget (steps x batch) as ``genlab eval latent-diffusion``, with
the conditional flow-matching loss on the OT path instead (``x_t = t x1 + (1 - t) x0``, target ``x1 - x0``,
Lipman et al. 2023). Then reflow (Liu et al. 2022): the 1-rectified flow simulates pairs ``(x0, ODE(x0))`` for
training captions, with guidance, and the 2-rectified flow (initialised from it, as Liu et al. and InstaFlow do)
learns the straight map between them. The guidance is in the pairs, so the 2-rectified flow samples unguided
(w = 1, one network call per step).

Reports, for both models and each Euler step count (1, 2, 4, 8, 16, 32; NFE = steps, doubled network rows
with guidance) and Heun (NFE = 2 x steps): prompt accuracy (reference classifier, prompts of every class) and
the Fréchet distance in the reference classifier's features (``fd_samples`` images) beside the real-versus-real
floor and the VAE-reconstruction FD; the straightness S of the latent trajectories (Liu et al. 2022, eq. 5)
before and after reflow; training, pair-simulation and sampling seconds.

    genlab eval flow-latent --json
    genlab ship flow-latent          # the same run, and writes data/flow_ldm/{flow,reflow}.{npz,json}
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from genlab.data.batches import image_batches
from genlab.experiments import over_seeds, register, register_ship
from genlab.experiments.latent_diffusion import (LatentData, LatentDiffusionConfig, latent_batches, latent_data,
                                                 train_latent_unet, unet_config)
from genlab.experiments.ldm_eval import class_prompts, fd_references, prompt_accuracy_of, sample_fd
from genlab.models import num_params
from genlab.models.unet import UNet, UNetConfig
from genlab.objectives.flow import FlowConfig, make_flow_loss
from genlab.pipelines.latents import load_vae
from genlab.pipelines.text import load_text_encoder
from genlab.pipelines.text_to_image import TextToImage, pipeline_info
from genlab.samplers.ode import sample_text_flow
from genlab.samplers.reflow import straightness
from genlab.shipped import shipped
from genlab.train.checkpoint import load_weights, read_info, save_weights
from genlab.train.configs import TrainConfig
from genlab.train.optim import OptimConfig

FLOW_DIR = shipped("flow_ldm")
REGENERATE = "genlab ship flow-latent"


@dataclasses.dataclass(frozen=True)
class FlowLatentObjective:
    path: str = "ot"  # genlab.paths.affine.PATHS: the conditional-OT path
    t_sampler: str = "uniform"  # genlab.objectives.flow.T_SAMPLERS
    cond_drop: float = 0.1  # as the diffusion model: the null caption for guidance
    ema: float = 0.999
    captions_per_image: int = 4
    p_tone: float = 0.7
    p_size: float = 0.7


@dataclasses.dataclass(frozen=True)
class LatentReflow:
    pairs: int = 10_000  # (x0, ODE(x0)) pairs simulated by the 1-rectified flow (a multiple of ``batch``)
    method: str = "euler"  # the solver that simulates them ...
    steps: int = 16  # ... its steps ...
    guidance: float = 3.0  # ... and its guidance (the 2-rectified flow learns the guided map, sampled at w = 1)
    batch: int = 500  # pairs per compiled simulation call
    train: TrainConfig = TrainConfig(steps=1000, batch_size=128, log_every=100)
    optim: OptimConfig = OptimConfig(learning_rate=3e-4, warmup_steps=100, clip_norm=1.0)


@dataclasses.dataclass(frozen=True)
class FlowLatentEval:
    euler_steps: tuple[int, ...] = (1, 2, 4, 8, 16, 32)
    heun_steps: tuple[int, ...] = (1, 2, 4, 8)  # NFE 2 x steps
    guidance: float = 3.0  # the 1-rectified flow's w (the diffusion model's default)
    per_class: int = 50  # prompts per class for prompt accuracy
    fd_samples: int = 1000  # per step count (the floor and the VAE-reconstruction FD at the same count)
    straightness_samples: int = 250
    straightness_steps: int = 32
    batch: int = 250

    @classmethod
    def tiny(cls) -> FlowLatentEval:
        return cls(euler_steps=(1,), heun_steps=(), per_class=2, fd_samples=40, straightness_samples=8,
                   straightness_steps=2, batch=20)


@dataclasses.dataclass(frozen=True)
class FlowLatentConfig:
    """Model, optimiser and training budget are latent-diffusion's at the same preset (a matched pair)."""

    model: UNetConfig = LatentDiffusionConfig.model
    objective: FlowLatentObjective = FlowLatentObjective()
    optim: OptimConfig = LatentDiffusionConfig.optim
    train: TrainConfig = LatentDiffusionConfig.train
    reflow: LatentReflow = LatentReflow()
    eval: FlowLatentEval = FlowLatentEval()

    @classmethod
    def matched(cls, ldm: LatentDiffusionConfig, **parts) -> FlowLatentConfig:
        return cls(model=ldm.model, optim=ldm.optim, train=ldm.train,
                   objective=FlowLatentObjective(cond_drop=ldm.objective.cond_drop, ema=ldm.objective.ema,
                                                 captions_per_image=ldm.objective.captions_per_image,
                                                 p_tone=ldm.objective.p_tone, p_size=ldm.objective.p_size),
                   **parts)

    @classmethod
    def tiny(cls) -> FlowLatentConfig:
        return cls.matched(LatentDiffusionConfig.tiny(), eval=FlowLatentEval.tiny(),
                           reflow=LatentReflow(pairs=40, steps=2, batch=20,
                                               train=TrainConfig(steps=4, batch_size=8, log_every=2),
                                               optim=OptimConfig(learning_rate=1e-3, warmup_steps=1)))

    @classmethod
    def cpu(cls) -> FlowLatentConfig:
        return cls.matched(LatentDiffusionConfig.cpu())

    @classmethod
    def gpu(cls) -> FlowLatentConfig:
        ldm = LatentDiffusionConfig.gpu()
        return cls.matched(ldm, reflow=LatentReflow(pairs=100_000, steps=32, batch=1000,
                                                    train=TrainConfig(steps=15_000, batch_size=256, log_every=200)),
                           eval=FlowLatentEval(heun_steps=(1, 2, 4, 8, 16), per_class=200, fd_samples=10_000,
                                              batch=1000))


def flow_pipeline(unet: UNet) -> TextToImage:
    tokenizer, text_encoder = load_text_encoder()
    return TextToImage(tokenizer, text_encoder, unet, load_vae(), None, "velocity")


def flow_loss_for(config: FlowLatentConfig, cond_drop: float):
    obj = config.objective
    return make_flow_loss(FlowConfig(path=obj.path, coupling="independent", t_sampler=obj.t_sampler,
                                     cond_drop=cond_drop))


def simulate_pairs(unet: UNet, data: LatentData, cfg: LatentReflow, seed: int):
    """Reflow pairs for training captions: ``(x0 [P, h, w, c] noise, x1 [P, h, w, c] = ODE(x0), rows [P])``,
    ``rows`` indexing ``data.states``; deterministic in ``seed``."""
    if cfg.pairs % cfg.batch:
        raise ValueError(f"reflow pairs ({cfg.pairs}) must be a multiple of its batch ({cfg.batch})")
    rng = np.random.default_rng([seed, 2])
    k, n = data.caption_ids.shape
    rows = data.caption_ids[rng.integers(k, size=cfg.pairs), rng.integers(n, size=cfg.pairs)]  # [P]
    key = jax.random.key(seed + 1_000)
    shape = data.latents.shape[1:]
    x0s, x1s = [], []
    for i in range(0, cfg.pairs, cfg.batch):
        r = rows[i : i + cfg.batch]
        x0 = jax.random.normal(jax.random.fold_in(key, i), (len(r), *shape))
        sol = sample_text_flow(unet, x0, jnp.asarray(data.states[r]), jnp.asarray(data.masks[r]),
                               jnp.asarray(cfg.guidance, jnp.float32), method=cfg.method, steps=cfg.steps,
                               guided=cfg.guidance != 1.0)
        x0s.append(np.asarray(x0))
        x1s.append(np.asarray(sol.x))
    return np.concatenate(x0s), np.concatenate(x1s), rows


def pair_batches(x0: np.ndarray, x1: np.ndarray, rows: np.ndarray, data: LatentData, batch_size: int, seed: int):
    """``batches(step) -> {"x0", "x1", "cond", "cond_mask"}`` over the reflow pairs, a pure function of the step."""
    inner = image_batches(x0, np.arange(len(x0)), batch_size=batch_size, seed=seed)

    def batches(step: int) -> dict:
        b = inner(step)
        r = rows[b["label"]]
        return {"x0": b["image"], "x1": x1[b["label"]], "cond": data.states[r], "cond_mask": data.masks[r]}

    return batches


def text_straightness(pipe: TextToImage, cfg: FlowLatentEval, guidance: float, seed: int) -> float:
    """S of the latent trajectories (Euler, ``straightness_steps``) for prompts of every class."""
    texts, _ = class_prompts(-(-cfg.straightness_samples // 10))
    texts = texts[: cfg.straightness_samples]
    _, mask, states = pipe.encode(texts)
    x0 = jax.random.normal(jax.random.key(seed + 2_000), (len(texts), *pipe.latent_shape))
    sol = sample_text_flow(pipe.unet, x0, jnp.asarray(states), jnp.asarray(mask), jnp.asarray(guidance, jnp.float32),
                           method="euler", steps=cfg.straightness_steps, guided=guidance != 1.0, trajectory=True)
    return float(straightness(sol.xs, sol.ts))


def evaluate_flow(pipe: TextToImage, cfg: FlowLatentEval, guidance: float, real_feats: np.ndarray, seed: int,
                  prefix: str = "") -> dict[str, Any]:
    """Prompt accuracy and FD of ``pipe`` at every step count of ``cfg`` (Euler and Heun), keys
    ``{prefix}prompt_accuracy_<steps>``, ``{prefix}fd_<steps>`` (Euler) and ``..._heun_<steps>``."""
    texts, labels = class_prompts(cfg.per_class)
    out: dict[str, Any] = {}
    runs = [("euler", s, "") for s in cfg.euler_steps] + [("heun", s, "heun_") for s in cfg.heun_steps]
    for method, steps, tag in runs:
        kw = dict(sampler=method, steps=steps, guidance=guidance, batch=cfg.batch)
        t0 = time.perf_counter()
        out[f"{prefix}prompt_accuracy_{tag}{steps}"], _ = prompt_accuracy_of(pipe, texts, labels, seed, **kw)
        out[f"{prefix}fd_{tag}{steps}"], _ = sample_fd(pipe, cfg.fd_samples, real_feats, seed, **kw)
        out[f"{prefix}seconds_{tag}{steps}"] = round(time.perf_counter() - t0, 2)
    return out


def train_and_evaluate(config: FlowLatentConfig, seed: int, save_dir: Path | None = None) -> dict[str, Any]:
    """One seed: train the 1-rectified flow, evaluate it, simulate pairs, train the 2-rectified flow, evaluate it.
    ``save_dir``: also write ``flow.{npz,json}`` and ``reflow.{npz,json}`` there (what ``genlab ship`` ships)."""
    ev = config.eval
    n = ev.fd_samples
    real_feats, fd_floor, fd_vae_recon = fd_references(load_vae(), n, seed)  # as latent-diffusion's evaluation
    report: dict[str, Any] = {"fd_floor": fd_floor, "fd_vae_recon": fd_vae_recon, "guidance": ev.guidance,
                              "reflow_guidance": 1.0, "fd_samples": n}

    data = latent_data(config, seed)
    t0 = time.perf_counter()
    unet1, hist1 = train_latent_unet(config, data, flow_loss_for(config, config.objective.cond_drop),
                                     latent_batches(data, config.train.batch_size, seed, data_key="x1"),
                                     seed=seed, desc="flow matching")
    report["train_seconds"] = round(time.perf_counter() - t0, 1)
    report["final_fm_loss"] = float(np.mean(hist1.metrics["fm_loss"][-50:]))
    info = pipeline_info(unet_config(config, data), None, "velocity")
    if save_dir is not None:
        save_weights(unet1, save_dir, "flow", {**info, "seed": seed, "train_seconds": report["train_seconds"]})
    pipe1 = flow_pipeline(unet1)
    report.update(evaluate_flow(pipe1, ev, ev.guidance, real_feats, seed))
    report["straightness_before"] = text_straightness(pipe1, ev, ev.guidance, seed)

    rf = config.reflow
    t0 = time.perf_counter()
    x0, x1, rows = simulate_pairs(unet1, data, rf, seed)
    report["reflow_pair_seconds"] = round(time.perf_counter() - t0, 1)
    t0 = time.perf_counter()
    unet2, hist2 = train_latent_unet(config, data, flow_loss_for(config, 0.0),
                                     pair_batches(x0, x1, rows, data, rf.train.batch_size, seed), seed=seed,
                                     init=unet1, steps=rf.train.steps, optim=rf.optim, desc="reflow")
    report["reflow_train_seconds"] = round(time.perf_counter() - t0, 1)
    report["reflow_final_fm_loss"] = float(np.mean(hist2.metrics["fm_loss"][-50:]))
    if save_dir is not None:
        save_weights(unet2, save_dir, "reflow", {**info, "seed": seed, "guidance": 1.0,
                                                 "reflow_guidance_in_pairs": rf.guidance})
    pipe2 = flow_pipeline(unet2)
    report.update(evaluate_flow(pipe2, ev, 1.0, real_feats, seed, prefix="reflow_"))
    report["straightness_after"] = text_straightness(pipe2, ev, 1.0, seed)
    report["straightness_ratio"] = report["straightness_before"] / max(report["straightness_after"], 1e-12)
    report.update(num_params=num_params(unet1), train_source=data.source, num_train=len(data.latents),
                  steps=config.train.steps, batch_size=config.train.batch_size, reflow_pairs=rf.pairs,
                  reflow_steps=rf.train.steps)
    return report


@register("flow-latent", config=FlowLatentConfig, default_seeds=1,
          description="latent text-to-image by flow matching (same U-Net, latents, text encoder and budget as "
          "latent-diffusion), then reflow: prompt accuracy and FD at 1-32 steps, straightness before/after")
def run(config: FlowLatentConfig, seeds: list[int]) -> dict[str, Any]:
    return over_seeds([train_and_evaluate(config, seed) for seed in seeds])


@register_ship("flow-latent")
def ship(config: FlowLatentConfig, out_dir: Path | None = None) -> dict[str, Any]:
    """Train and evaluate (seed 0) as ``genlab eval flow-latent`` does and write ``data/flow_ldm/flow.*`` (the
    1-rectified flow) and ``reflow.*`` (the 2-rectified flow): ``load_flow_pipeline("flow" | "reflow")``."""
    folder = Path(out_dir) if out_dir is not None else FLOW_DIR
    report = train_and_evaluate(config, 0, save_dir=folder)
    for name in ("flow", "reflow"):
        info = read_info(folder, name, REGENERATE)
        (folder / f"{name}.json").write_text(json.dumps({**info, "eval": report}, indent=2) + "\n")
    return report


def load_flow_pipeline(name: str = "flow", folder: str | Path | None = None) -> TextToImage:
    """The shipped flow pipeline: ``"flow"`` (1-rectified, sample with guidance) or ``"reflow"`` (2-rectified,
    sample with ``guidance=1``); no download, no training."""
    if name not in ("flow", "reflow"):
        raise ValueError(f"unknown flow model {name!r}: choose 'flow' (1-rectified) or 'reflow' (2-rectified)")
    folder = Path(folder) if folder is not None else FLOW_DIR
    info = read_info(folder, name, REGENERATE)
    config = UNetConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in info["config"].items()})
    unet = load_weights(UNet(config, rngs=nnx.Rngs(0)), folder, name, REGENERATE)
    return flow_pipeline(unet)
