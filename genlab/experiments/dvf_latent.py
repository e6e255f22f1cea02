"""The latent text-to-image half of ``diffusion-vs-flow``: the shipped latent-diffusion U-Net of the lecture
(ε-prediction on the DDPM schedule, ``data/ldm_eps``) against the shipped flow-latent U-Nets (the 1- and the 2-rectified flow, ``data/flow_ldm``), prompt
accuracy and FD against NFE.

The U-Nets have one architecture and read the same shipped VAE latents and text encoder (checked: ``shared``);
their training budgets come from their shipped json (``budget``; ``matched`` is true or false where steps × batch
are recorded for both, null where they are not). Every arm samples the same prompts from the same start noise
(the pipeline's ``x_T`` of each seed) at one guidance w (3, the shipped evaluations' convention), except the
2-rectified flow: it learned the guided map from its reflow pairs and samples at the w of its json (1). NFE counts
evaluations of the (guided) field; with guidance each is one batched network call on ``[x; x]``.

Arms (the names of ``dvf_setup.ARMS``): DDPM, DDIM, DPM-Solver++(2M) (``genlab.samplers.diffusion``); the ε
model's probability-flow ODE with Euler, Heun and Dopri5 (``genlab.samplers.pf_ode``; the network, trained on
integer steps, is fed fractional ones: ``step_index_eps``); flow matching with Euler, Heun and Dopri5
(``genlab.samplers.ode``); the 2-rectified flow with Euler. Dopri5 runs at each of ``tolerances`` and reports the
NFE it took (mean over sampling batches: one step size per batch).

Metrics (``genlab.experiments.ldm_eval``): prompt accuracy of ``per_class`` prompts of every class and the FD of
``fd_images`` images in the reference classifier's features, beside the real-versus-real floor and the FD of VAE
reconstructions (the best any model of these latents can do). :func:`latent_images_per_nfe`: the demo's image grid
(the same prompts and noise for every row).
"""

from __future__ import annotations

import dataclasses
import functools
import time
from collections.abc import Mapping, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from genlab.experiments.dvf_setup import ARM, ARMS, DISCRETE, Arm
from genlab.experiments.flow_latent import FLOW_DIR, load_flow_pipeline
from genlab.experiments.flow_latent import REGENERATE as FLOW_REGENERATE
from genlab.experiments.ldm_eval import class_prompts, fd_references, prompt_accuracy_of, sample_fd
from genlab.paths.affine import AffinePath
from genlab.pipelines.text_to_image import LDM_EPS_DIR, REGENERATE_EPS, TextToImage
from genlab.samplers.ode import STAGES, dopri5, text_field
from genlab.samplers.pf_ode import pf_ode, solve_range, step_index_eps
from genlab.train.checkpoint import read_info

PF_PATHS = {"linear": "vp", "cosine": "cosine"}  # the continuous VP path of a discrete schedule (else vp)


@dataclasses.dataclass(frozen=True)
class LatentPartConfig:
    """The latent text-to-image half (see :func:`latent_text_to_image`)."""

    nfe: tuple[int, ...] = (1, 2, 4, 8, 16, 32)  # budgets of the fixed-step arms
    per_class: int = 20  # prompts per class for prompt accuracy
    fd_images: int = 1000
    tolerances: tuple[float, ...] = (1e-1, 1e-2, 1e-3)  # Dopri5 rtol = atol (flow, 10 prompts: 25, 31, 43 NFE)
    guidance: float = 3.0  # w of every guided arm (the shipped evaluations' convention)
    batch: int | None = None  # images per sampling call; None: 10 x per_class (one compiled shape for both metrics)
    arms: tuple[str, ...] = tuple(a.name for a in ARMS)


def shipped_pipelines() -> dict[str, TextToImage]:
    """``{"diffusion", "flow", "rectified"}``: the shipped latent-diffusion (the lecture's ε-model), 1- and
    2-rectified flow pipelines."""
    return {"diffusion": TextToImage.load(LDM_EPS_DIR), "flow": load_flow_pipeline("flow"),
            "rectified": load_flow_pipeline("reflow")}


def _same_weights(a, b) -> bool:
    la, lb = jax.tree.leaves(nnx.state(a)), jax.tree.leaves(nnx.state(b))
    return a is b or (len(la) == len(lb) and all(np.shape(x) == np.shape(y) and np.array_equal(x, y)
                                                 for x, y in zip(la, lb)))


def shared_parts(pipes: dict[str, TextToImage]) -> dict:
    """Per flow model: whether its VAE, text encoder, tokenizer (ids of every class prompt) and U-Net architecture
    are the diffusion pipeline's."""
    ref = pipes["diffusion"]
    texts, _ = class_prompts(1)
    ids = np.asarray(ref.tokenizer.encode(texts)[0])
    return {name: {"vae": _same_weights(ref.vae, p.vae),
                   "text_encoder": _same_weights(ref.text_encoder, p.text_encoder),
                   "tokenizer": bool(np.array_equal(ids, np.asarray(p.tokenizer.encode(texts)[0]))),
                   "unet_architecture": ref.unet.config == p.unet.config}
            for name, p in pipes.items() if name != "diffusion"}


def _budget(steps, batch, **more) -> dict:
    return {"steps": steps, "batch_size": batch, "examples": steps * batch if steps and batch else None, **more}


def training_budgets(ldm_dir=LDM_EPS_DIR, flow_dir=FLOW_DIR) -> tuple[dict, bool | None, str]:
    """``(budget per model, matched, why)`` from the shipped json: steps × batch where recorded (None where not);
    matched: diffusion and flow examples equal (None: not both recorded)."""
    d = read_info(ldm_dir, "unet", REGENERATE_EPS)
    f = read_info(flow_dir, "flow", FLOW_REGENERATE).get("eval", {})
    r = read_info(flow_dir, "reflow", FLOW_REGENERATE).get("eval", {})
    budget = {
        "diffusion": _budget(d.get("steps"), d.get("batch_size"), train_source=d.get("train_source"),
                             json="data/ldm_eps/unet.json"),
        "flow": _budget(f.get("steps"), f.get("batch_size"), train_source=f.get("train_source"),
                        num_train=f.get("num_train"), json="data/flow_ldm/flow.json"),
        "rectified": _budget(r.get("steps"), r.get("batch_size"), reflow_steps=r.get("reflow_steps"),
                             reflow_pairs=r.get("reflow_pairs"), json="data/flow_ldm/reflow.json",
                             note="the 1-rectified flow's budget, then reflow_steps more on reflow_pairs pairs it "
                                  "simulated (their batch size is not recorded)"),
    }
    bd, bf = budget["diffusion"], budget["flow"]
    if bd["examples"] is not None and bf["examples"] is not None:
        matched = bd["examples"] == bf["examples"]
        why = (f"steps x batch: diffusion {bd['steps']} x {bd['batch_size']}, flow {bf['steps']} x "
               f"{bf['batch_size']}" + ("" if matched else ": NOT matched"))
    else:
        missing = [f"{m} {k}" for m, b in (("diffusion", bd), ("flow", bf)) for k in ("steps", "batch_size")
                   if b[k] is None]
        matched = None
        why = (f"not confirmed: the shipped json does not record {', '.join(missing)}; recorded: diffusion "
               f"{bd['steps']} steps, flow {bf['steps']} x {bf['batch_size']}"
               + (" (steps equal)" if bd["steps"] == bf["steps"] else " (steps differ)"))
    return budget, matched, why + "; the 2-rectified flow trains on top of the flow (reflow)"


def sampling_guidance(w: float, flow_dir=FLOW_DIR) -> dict[str, float]:
    """The w each model samples at: ``w`` for diffusion and flow, the 2-rectified flow's own (its json's
    ``guidance``: its pairs were simulated with guidance, so it learned the guided map)."""
    own = read_info(flow_dir, "reflow", FLOW_REGENERATE).get("guidance", 1.0)
    return {"diffusion": float(w), "flow": float(w), "rectified": float(own)}


@functools.partial(nnx.jit, static_argnames=("schedule", "method", "steps", "rtol", "guided"))
def _pf_sample(unet, x_T, cond, cond_mask, guidance, *, schedule, method, steps, rtol, guided):
    """The ε U-Net's probability-flow ODE from ``x_T: [B, h, w, c]``: ``(latent, nfe)``."""
    path = AffinePath(PF_PATHS.get(schedule.config.kind, "vp"))
    t0, t1 = solve_range(schedule, path)
    eps_fn = step_index_eps(unet, schedule, path, cond, cond_mask, guidance, guided=guided)
    sol = pf_ode(eps_fn, x_T, path, t0=t0, t1=t1, method=method, steps=steps, rtol=rtol)
    return sol.x, sol.nfe


@functools.partial(nnx.jit, static_argnames=("rtol", "guided"))
def _flow_dopri5(unet, x_T, cond, cond_mask, guidance, *, rtol, guided):
    """Dopri5 on the flow U-Net's (guided) field from ``x_T`` (t = 0) to t = 1: ``(latent, nfe)``."""
    sol = dopri5(text_field(unet, cond, cond_mask, guidance, guided=guided), x_T, rtol=rtol, atol=rtol)
    return sol.x, sol.nfe


@dataclasses.dataclass
class ArmSampler:
    """One arm at one size as a pipeline for ``ldm_eval``'s metrics (``generate(prompts, seed=, batch=)``, the
    pipeline's own batching and seeds, so the same start noise as the pipeline); records each call's NFE."""

    pipe: TextToImage
    arm: Arm
    steps: int  # fixed-step arms (0: the PF-ODE's denoising jump alone)
    rtol: float  # Dopri5
    guidance: float
    nfe: list[int] = dataclasses.field(default_factory=list)

    generate = TextToImage.generate

    def __call__(self, prompts, *, seed: int = 0) -> np.ndarray:
        arm = self.arm
        if arm.method in DISCRETE or (arm.family == "flow" and not arm.adaptive):  # the pipeline's own sampler
            self.nfe.append(self.steps * STAGES.get(arm.method, 1))
            return self.pipe(prompts, steps=self.steps, guidance=self.guidance, sampler=arm.method, seed=seed)
        _, mask, states = self.pipe.encode(prompts)
        k_noise, _ = jax.random.split(jax.random.key(seed))  # as TextToImage.__call__ draws x_T
        x_T = jax.random.normal(k_noise, (len(prompts), *self.pipe.latent_shape))
        args = (self.pipe.unet, x_T, jnp.asarray(states), jnp.asarray(mask), jnp.asarray(self.guidance, jnp.float32))
        guided = self.guidance != 1.0
        if arm.family == "diffusion":
            x, nfe = _pf_sample(*args, schedule=self.pipe.schedule, method=arm.method, steps=self.steps,
                                rtol=self.rtol, guided=guided)
        else:
            x, nfe = _flow_dopri5(*args, rtol=self.rtol, guided=guided)
        self.nfe.append(int(nfe))
        return self.pipe.decode(x)


LATENT_ROWS = ("ddim", "dpm_solver", "ddpm", "flow_euler", "rf2_euler")  # arms (dvf_setup.ARMS) of the image grid


def latent_images_per_nfe(pipes: Mapping[str, object], prompts: Sequence[str], nfes: Sequence[int], *,
                          guidance: Mapping[str, float], seed: int = 0,
                          rows: Sequence[str] = LATENT_ROWS) -> dict[str, dict[int, np.ndarray]]:
    """``{arm label: {nfe: [P, 28, 28, 1]}}`` of text-to-image pipelines ``pipes`` (``{"diffusion", "flow",
    "rectified"}``; an arm whose model is missing is left out), each at ``guidance[model]``: the same prompts and
    start noise in every cell (with guidance every NFE is one batched network call)."""
    out = {}
    for arm in (ARM[r] for r in rows if ARM[r].model in pipes):
        pipe = pipes[arm.model]
        out[arm.label] = {int(n): pipe(list(prompts), steps=s, guidance=guidance[arm.model], sampler=arm.method,
                                       seed=seed)
                          for n in nfes if (s := arm.steps_for(int(n))) is not None}
    return out


def evaluate_latent(config: LatentPartConfig, pipes: dict[str, TextToImage], seed: int) -> dict:
    """One seed: every arm of ``config.arms`` at every budget (Dopri5: every tolerance), prompt accuracy and FD."""
    start = time.perf_counter()
    real_feats, fd_floor, fd_vae_recon = fd_references(pipes["diffusion"].vae, config.fd_images, seed)
    texts, labels = class_prompts(config.per_class)
    batch = config.batch or len(texts)
    w = sampling_guidance(config.guidance)

    def point(arm: Arm, steps: int = 0, rtol: float = 1e-5) -> dict:
        sampler = ArmSampler(pipes[arm.model], arm, steps, rtol, w[arm.model])
        t0 = time.perf_counter()
        acc, _ = prompt_accuracy_of(sampler, texts, labels, seed, batch=batch)
        fd, _ = sample_fd(sampler, config.fd_images, real_feats, seed, batch=batch)
        return {"steps": steps, "nfe": float(np.mean(sampler.nfe)), "prompt_accuracy": acc, "fd": float(fd),
                "seconds": round(time.perf_counter() - t0, 2)}

    table, adaptive = {}, {}
    for arm in (ARM[a] for a in config.arms):
        if arm.adaptive:
            adaptive[arm.name] = [{"rtol": tol, **point(arm, rtol=tol)} for tol in config.tolerances]
        else:
            table[arm.name] = [None if (s := arm.steps_for(n)) is None else {"nfe_budget": n, **point(arm, s)}
                               for n in config.nfe]
    return {"table": table, "adaptive": adaptive, "fd_floor": float(fd_floor), "fd_vae_recon": float(fd_vae_recon),
            "seconds": time.perf_counter() - start}


def _mean_std(values) -> tuple[float, float]:
    return float(np.mean(values)), float(np.std(values))


def _point_stats(points: list[dict | None]) -> dict | None:
    """Mean and spread (std over seeds) of one cell; its NFE as an int where every seed used the same."""
    if points[0] is None:
        return None
    out = {k: points[0][k] for k in ("nfe_budget", "rtol", "steps") if k in points[0]}
    nfe, nfe_std = _mean_std([p["nfe"] for p in points])
    out["nfe"] = int(nfe) if nfe == int(nfe) and nfe_std == 0 else round(nfe, 1)
    out["model"] = {}
    for key in ("prompt_accuracy", "fd"):
        mean, std = _mean_std([p[key] for p in points])
        out["model"] |= {key: round(mean, 5), f"{key}_std": round(std, 5)}
    out["seconds"] = round(float(np.mean([p["seconds"] for p in points])), 2)
    return out


def summarize_latent(config: LatentPartConfig, runs: list[dict]) -> dict:
    """The seeds' runs as one table (``table[arm][i]`` at ``nfe[i]``, ``adaptive[arm][j]`` at ``tolerances[j]``)."""
    table = {a: [_point_stats([r["table"][a][i] for r in runs]) for i in range(len(config.nfe))]
             for a in runs[0]["table"]}
    adaptive = {a: [_point_stats([r["adaptive"][a][j] for r in runs]) for j in range(len(config.tolerances))]
                for a in runs[0]["adaptive"]}
    out = {"table": table, "adaptive": adaptive}
    for key in ("fd_floor", "fd_vae_recon"):
        mean, std = _mean_std([r[key] for r in runs])
        out |= {key: round(mean, 5), f"{key}_std": round(std, 5)}
    out["seconds"] = round(float(sum(r["seconds"] for r in runs)), 1)
    return out


def latent_text_to_image(config: LatentPartConfig, seeds: list[int], pipes: dict[str, TextToImage] | None = None
                         ) -> dict:
    """The latent half over ``seeds``: the summary of :func:`summarize_latent` beside the models' shared parts,
    training budgets (``matched``), guidance and notes. ``pipes``: the shipped pipelines unless given (tests).
    Shipped weights missing: ``{"status": "not available", "why": ...}`` (the 2D half's numbers stand)."""
    try:  # the shipped weights and their json, before any sampling
        pipes = pipes or shipped_pipelines()
        budget, matched, why = training_budgets()
    except FileNotFoundError as err:  # says which file is missing and the command that writes it
        return {"status": "not available", "why": str(err), "nfe": list(config.nfe)}
    summary = summarize_latent(config, [evaluate_latent(config, pipes, seed) for seed in seeds])
    return {
        "status": "measured", "models": {"diffusion": "data/ldm_eps/unet (TextToImage.load(LDM_EPS_DIR))",
                                         "flow": "data/flow_ldm/flow (load_flow_pipeline('flow'))",
                                         "rectified": "data/flow_ldm/reflow (load_flow_pipeline('reflow'))"},
        "shared": shared_parts(pipes), "budget": budget, "matched": matched, "matched_why": why,
        "guidance": config.guidance, "guidance_per_model": sampling_guidance(config.guidance),
        "arms": {a: ARM[a].label for a in config.arms}, "nfe": list(config.nfe), "tolerances": list(config.tolerances),
        "prompt_accuracy_n": 10 * config.per_class, "fd_images": config.fd_images, "seeds": list(seeds),
        **summary,
        "notes": [
            "table[arm][i] is at nfe[i] (None: the arm cannot run on that budget: Heun takes 2 NFE a step, the "
            "PF-ODE 1 more for its final denoising jump); adaptive[arm][j] is Dopri5 at tolerances[j] (rtol = atol), "
            "its nfe the mean over sampling batches",
            "NFE: evaluations of the guided field, each one batched network call on [x; x] (the 2-rectified flow: "
            "unguided, one call on x)",
            "model.*_std: spread (std) over seeds; the models are the shipped ones, so a seed changes the start "
            "noise, DDPM's noise and the real images the FD is measured against, not the weights",
            "PF-ODE: the eps U-Net was trained on integer steps; the ODE feeds it fractional steps between them "
            "(genlab.samplers.pf_ode.step_index_eps, as k-diffusion's DiscreteEpsDDPMDenoiser)",
            f"fd_vae_recon: the FD of VAE reconstructions of real images, the best any model of these latents can do; "
            f"fd_floor: real against real ({config.fd_images} images each)"],
    }

