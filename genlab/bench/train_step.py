"""Measurements 1, 4 and 5: the U-Net train step against PyTorch, its fraction of the matmul peak, its growth.

A :class:`TrainCase` is one U-Net training as an experiment runs it: the latent text-to-image U-Net of
``latent-diffusion`` (v-prediction on zero terminal SNR, on ``[7, 7, 4]`` latents, cross-attention to ``[24, 64]``
text states, 10 % condition dropout) and the 28x28 pixel denoiser of ``unet-skip`` (x0 from ``x0 + sigma eps``,
sigma log-uniform). genlab's side is the experiment's own step (``make_train_step`` of its loss, ``make_optimizer``
of its ``OptimConfig``), called as ``genlab.train.fit`` calls it. PyTorch's side is the port of the same U-Net
(``torch_ports``, parameter count asserted equal, genlab's initial weights copied in) with the same loss, Adam
(or AdamW) settings, global-norm clipping and learning-rate schedule (optax's values, tabulated), written as a
PyTorch user writes a training step. Both get the same fixed synthetic batch: the cost does not depend on it.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from genlab.bench.config import BenchConfig, Repeats
from genlab.bench.timing import interleaved, time_one, xla_flops
from genlab.experiments.latent_diffusion import LatentDiffusionConfig
from genlab.experiments.unet_skip import UNetSkipConfig
from genlab.models import num_params
from genlab.models.unet import UNet, UNetConfig
from genlab.objectives.denoise import denoise_loss
from genlab.objectives.diffusion import diffusion_loss
from genlab.schedules.diffusion import Schedule
from genlab.text.tokenizer import CONTEXT_LENGTH
from genlab.train.optim import OptimConfig, learning_rate_schedule, make_optimizer
from genlab.train.steps import make_train_step


@dataclasses.dataclass(frozen=True)
class TrainCase:
    name: str
    model: UNetConfig
    optim: OptimConfig
    run_steps: int  # the experiment's run length: the learning-rate schedule's horizon
    batch_size: int
    image: tuple[int, int, int]  # H, W, C of one example
    objective: Any  # LDMObjective (diffusion) or DenoiseObjective (denoise)
    cond: tuple[int, int] | None = None  # (L, D) text states, diffusion only

    @property
    def kind(self) -> str:
        return "diffusion" if self.cond is not None else "denoise"


def latent_case(config: LatentDiffusionConfig) -> TrainCase:
    return TrainCase("latent_text_to_image", config.model, config.optim, config.train.steps, config.train.batch_size,
                     (7, 7, config.model.in_channels), config.objective, (CONTEXT_LENGTH, config.model.cond_dim))


def pixel_case(config: UNetSkipConfig, *, batch_size: int | None = None, size: int = 28) -> TrainCase:
    return TrainCase(f"pixel_denoiser_{size}", config.model, config.optim, config.train.steps,
                     batch_size or config.train.batch_size, (size, size, config.model.in_channels), config.objective)


def cases(config: BenchConfig) -> list[TrainCase]:
    return [latent_case(config.latent), pixel_case(config.pixel)]


def synthetic_batch(case: TrainCase, seed: int = 0) -> dict[str, np.ndarray]:
    """A fixed batch: data ``[B, H, W, C]`` (and text states ``[B, L, D]`` with masks of random lengths)."""
    rng = np.random.default_rng(seed)
    b = case.batch_size
    x = np.clip(rng.normal(size=(b, *case.image)), -3, 3).astype(np.float32)
    if case.kind == "denoise":
        return {"image": np.clip(x, -1, 1)}
    length, dim = case.cond
    lengths = rng.integers(3, length + 1, b)
    return {"x0": x, "cond": rng.normal(size=(b, length, dim)).astype(np.float32),
            "cond_mask": np.arange(length)[None, :] < lengths[:, None]}


def genlab_loss(case: TrainCase):
    obj = case.objective
    if case.kind == "diffusion":
        return functools.partial(diffusion_loss, schedule=Schedule.from_config(obj.schedule),
                                 prediction=obj.prediction, cond_drop=obj.cond_drop)
    return functools.partial(denoise_loss, sigma_min=obj.sigma_min, sigma_max=obj.sigma_max)


@dataclasses.dataclass
class GenlabStep:
    """genlab's side of a case, ready to call: ``call(i)`` runs step i (key ``fold_in(key, i)``) as ``fit`` does."""

    model: UNet
    optimizer: nnx.Optimizer
    step: Any
    batch: dict
    key: jax.Array

    def call(self, i: int):
        return self.step(self.model, self.optimizer, self.batch, jax.random.fold_in(self.key, i))

    def flops(self) -> float:
        return xla_flops(self.step, self.model, self.optimizer, self.batch, self.key)


def genlab_step(case: TrainCase, seed: int = 0) -> GenlabStep:
    model = UNet(case.model, rngs=nnx.Rngs(params=seed))
    optimizer = make_optimizer(model, case.optim, case.run_steps)
    batch = {k: jnp.asarray(v) for k, v in synthetic_batch(case, seed).items()}
    return GenlabStep(model, optimizer, make_train_step(genlab_loss(case)), batch, jax.random.key(seed))


def lr_table(optim: OptimConfig, steps: int) -> np.ndarray:
    """optax's learning rate at steps 0..steps (float64), for PyTorch's ``LambdaLR``: the same schedule."""
    schedule = learning_rate_schedule(optim, steps)
    if not callable(schedule):
        return np.full(steps + 1, float(schedule))
    return np.asarray(jax.vmap(schedule)(jnp.arange(steps + 1)), np.float64)


def torch_optimizer(port, optim: OptimConfig, steps: int):
    """Adam (AdamW with weight decay) with optax's defaults (eps 1e-8) and genlab's learning-rate schedule."""
    import torch

    table = lr_table(optim, steps)
    base = optim.learning_rate
    kind = torch.optim.AdamW if optim.weight_decay > 0 else torch.optim.Adam
    extra = {"weight_decay": optim.weight_decay} if optim.weight_decay > 0 else {}
    opt = kind(port.parameters(), lr=base, betas=(optim.b1, optim.b2), eps=1e-8, **extra)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: table[min(s, steps)] / base)
    return opt, sched


def torch_step(case: TrainCase, model: UNet, seed: int = 0):
    """PyTorch's side of a case: ``call(i)`` runs one training step of the port (weights copied from ``model``)."""
    import torch
    import torch.nn.functional as F

    from genlab.bench.torch_ports import TorchUNet, copy_weights, torch_num_params

    port = copy_weights(model, TorchUNet(case.model))
    if torch_num_params(port) != num_params(model):
        raise AssertionError(f"{case.name}: the PyTorch port has {torch_num_params(port)} parameters, genlab's U-Net "
                             f"{num_params(model)}: the architectures differ")
    opt, sched = torch_optimizer(port, case.optim, case.run_steps)
    clip = case.optim.clip_norm
    batch = {k: torch.from_numpy(np.array(v)) for k, v in synthetic_batch(case, seed).items()}
    gen = torch.Generator().manual_seed(seed)
    obj = case.objective
    if case.kind == "diffusion":
        if obj.prediction not in ("eps", "v"):
            raise ValueError(f"the PyTorch side implements eps- and v-prediction only, got {obj.prediction!r}")
        schedule = Schedule.from_config(obj.schedule)
        alpha = torch.from_numpy(schedule.sqrt_alphas_cumprod)
        sigma = torch.from_numpy(schedule.sqrt_one_minus_alphas_cumprod)

    def loss_fn():
        if case.kind == "diffusion":
            x0, cond, mask = batch["x0"], batch["cond"], batch["cond_mask"]
            b = x0.shape[0]
            t = torch.randint(0, schedule.num_timesteps, (b,), generator=gen)
            eps = torch.randn(x0.shape, generator=gen)
            x_t = alpha[t].view(b, 1, 1, 1) * x0 + sigma[t].view(b, 1, 1, 1) * eps
            drop = torch.rand(b, generator=gen) < obj.cond_drop  # null condition: zeros, every token masked
            cond = torch.where(drop[:, None, None], torch.zeros_like(cond), cond)
            mask = mask & ~drop[:, None]
            a, s = alpha[t].view(b, 1, 1, 1), sigma[t].view(b, 1, 1, 1)
            target = eps if obj.prediction == "eps" else a * eps - s * x0  # v = alpha eps - sigma x0
            return F.mse_loss(port(x_t, t, cond, mask), target)
        x0 = batch["image"]
        b = x0.shape[0]
        u = torch.rand(b, generator=gen)
        s = torch.exp(np.log(obj.sigma_min) + u * (np.log(obj.sigma_max) - np.log(obj.sigma_min)))
        x_noisy = x0 + s.view(b, 1, 1, 1) * torch.randn(x0.shape, generator=gen)
        return F.mse_loss(port(x_noisy, s), x0)

    def call(i: int):
        loss = loss_fn()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(port.parameters(), clip if clip is not None else float("inf"))
        opt.step()
        sched.step()
        return loss.detach(), norm

    return call


def bench_train_step(config: BenchConfig, peers_reason: str | None) -> tuple[dict, dict[str, GenlabStep]]:
    """Median step times of genlab and PyTorch per case, timed interleaved, and their ratio. Also returns the
    genlab steps (warm, compiled) so the limit measurement reuses them."""
    out, steps = {}, {}
    for case in cases(config):
        g = genlab_step(case)
        steps[case.name] = g
        fns = {"genlab": g.call}
        if peers_reason is None:
            fns["torch"] = torch_step(case, g.model)
        rep: Repeats = config.train_timing
        t = interleaved(fns, warmup=rep.warmup, repeats=rep.repeats)
        entry = {"batch_size": case.batch_size, "image": list(case.image), "num_params": num_params(g.model),
                 "genlab": t["genlab"].as_dict()}
        if "torch" in t:
            entry |= {"torch": t["torch"].as_dict(), "speedup": t["torch"].median / t["genlab"].median}
        out[case.name] = entry
    return out, steps


def bench_limit(steps: dict[str, GenlabStep], train: dict, peak: dict) -> dict:
    """Per case: XLA's FLOPs per step, the FLOP rate at the median step time, and its fraction of the peak; with
    PyTorch timed, its fraction of the peak for the same arithmetic and the ceiling of the speedup (PyTorch's
    step time over the time of the step's FLOPs at the matmul peak: no implementation beats it here)."""
    out = {}
    for name, g in steps.items():
        flops = g.flops()
        rate = flops / train[name]["genlab"]["median_s"]
        out[name] = {"flops_per_step": flops, "flops_per_s": rate, "fraction_of_peak": rate / peak["peak_flops_per_s"]}
        if "torch" in train[name]:
            out[name] |= ceiling(flops, train[name]["torch"]["median_s"], peak, "torch")
    return out


def ceiling(flops: float, peer_s: float, peak: dict, peer: str) -> dict:
    """``{peer}_fraction_of_peak`` and ``speedup_ceiling``: a program of ``flops`` FLOPs running at the matmul peak
    takes ``flops / peak``; the peer took ``peer_s``, so no implementation of the same arithmetic here is more than
    ``peer_s / (flops / peak)`` times faster than the peer."""
    ideal_s = flops / peak["peak_flops_per_s"]
    return {f"{peer}_fraction_of_peak": ideal_s / peer_s, "ideal_s_at_peak": ideal_s, "speedup_ceiling": peer_s / ideal_s}


def bench_growth(config: BenchConfig) -> dict:
    """genlab's pixel-denoiser step time per image size and batch size: ``{"sizes", "batches", "seconds"
    [size][batch]}`` (median seconds), the data of ``genlab.figures.bench.growth_figure``."""
    rep = config.growth.timing
    seconds = []
    for size in config.growth.sizes:
        row = []
        for b in config.growth.batches:
            g = genlab_step(pixel_case(config.pixel, batch_size=b, size=size))
            row.append(time_one(g.call, warmup=rep.warmup, repeats=rep.repeats).median)
        seconds.append(row)
    return {"model": "pixel denoiser U-Net (unet-skip)", "sizes": list(config.growth.sizes),
            "batches": list(config.growth.batches), "seconds": seconds}
