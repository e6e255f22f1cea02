"""Measurement 3: 2D flow matching, genlab against torchcfm (training) and torchdiffeq (adaptive sampling).

Training: the ``flow-2d`` MLP field, batch, optimiser and schedule on a Gaussian-mixture data set (ring8), with
independent pairs on the OT path and t ~ U[0, 1] on both sides (torchcfm's ``ConditionalFlowMatcher(sigma=0)``
draws t uniformly; ``flow-2d`` itself uses its "late" t, which costs the same). genlab's side is its training loop
as ``flow-2d`` runs it (``genlab.train.fit``, 50 steps per compiled ``lax.scan``, data drawn inside the step from
the key);
PyTorch's is the torchcfm training loop of its examples: draw x1 and x0, ``sample_location_and_conditional_flow``,
regress, clip, step. Both are timed in interleaved chunks of ``chunk_steps`` steps after a warm-up.

Sampling: the trained genlab field's weights are copied into the PyTorch port and ``samples`` noise points are
pushed from t = 0 to 1 by Dopri5 on both sides with the same ``rtol``/``atol``: diffrax (PID controller, one
compiled solve) against ``torchdiffeq.odeint`` (a Python loop). NFE: diffrax's step count (``dopri5_nfe``) and a
counter in the PyTorch field.
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import numpy as np
from flax import nnx

from genlab.bench.config import BenchConfig
from genlab.bench.timing import interleaved, xla_flops
from genlab.bench.train_step import torch_optimizer
from genlab.data.toy2d import toy2d
from genlab.experiments import flow2d_setup as S
from genlab.models import num_params
from genlab.models.mlp_field import MLPField
from genlab.objectives.flow import make_flow_loss
from genlab.samplers.ode import dopri5, model_field
from genlab.train import fit
from genlab.train.optim import make_optimizer
from genlab.train.steps import make_train_step


@functools.partial(nnx.jit, static_argnames=("rtol", "atol"))
def genlab_dopri5(model, z, *, rtol: float, atol: float):
    """``(x1: [B, 2], nfe)``: noise ``z: [B, 2]`` pushed through the model's flow by diffrax's Dopri5."""
    sol = dopri5(model_field(model), z, rtol=rtol, atol=atol)
    return sol.x, sol.nfe


def _torch_side(model: MLPField, config: BenchConfig, name: str, scale: float, total_steps: int):
    """PyTorch port of ``model`` (its initial weights) and ``chunk(i)``: ``chunk_steps`` torchcfm training steps."""
    import torch
    from torchcfm.conditional_flow_matching import ConditionalFlowMatcher

    from genlab.bench.torch_ports import TorchMLPField, copy_weights, torch_num_params

    cfg = config.flow_model
    port = copy_weights(model, TorchMLPField(cfg.model))
    if torch_num_params(port) != num_params(model):
        raise AssertionError("the PyTorch MLP port and genlab's MLPField have different parameter counts")
    opt, sched = torch_optimizer(port, cfg.optim, total_steps)
    data = toy2d(name)
    if data.centers is None:
        raise ValueError(f"the PyTorch side draws Gaussian mixtures; {name!r} is not one: use ring8 or grid25")
    centers = torch.tensor(data.centers / scale, dtype=torch.float32)
    sigma, batch, clip = data.sigma / scale, cfg.train.batch_size, cfg.optim.clip_norm
    torch.manual_seed(0)
    matcher = ConditionalFlowMatcher(sigma=0.0)

    def chunk(i: int):
        for _ in range(config.flow.chunk_steps):
            x1 = centers[torch.randint(0, len(centers), (batch,))] + sigma * torch.randn(batch, 2)
            x0 = torch.randn_like(x1)
            t, xt, ut = matcher.sample_location_and_conditional_flow(x0, x1)
            loss = torch.mean((port(xt, t) - ut) ** 2)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(port.parameters(), clip if clip is not None else float("inf"))
            opt.step()
            sched.step()
        return loss.item()

    return port, chunk


def bench_flow(config: BenchConfig, peers_reason: str | None) -> dict:
    """Training steps per second on each side and their ratio; Dopri5 sampling seconds and NFE on each side."""
    fb, cfg = config.flow, config.flow_model
    name, scale = fb.dataset, cfg.scale(fb.dataset)
    rep = fb.train_timing
    total_steps = fb.chunk_steps * (rep.warmup + rep.repeats)
    model = MLPField(cfg.model, rngs=nnx.Rngs(0))
    objective = dataclasses.replace(cfg.objective, t_sampler="uniform", coupling="independent", path="ot")
    loss_fn = functools.partial(S.toy_loss, data=toy2d(name), scale=scale, batch_size=cfg.train.batch_size,
                                **make_flow_loss(objective).keywords)
    optimizer = make_optimizer(model, cfg.optim, total_steps)
    step = make_train_step(loss_fn)
    key = jax.random.key(0)

    def genlab_chunk(i: int):  # as flow2d_setup.train_flow: STEPS_PER_CALL steps per compiled call
        history = fit((model, optimizer), step, None, steps=fb.chunk_steps, key=jax.random.fold_in(key, i),
                      log_every=cfg.train.log_every, progress=False, steps_per_call=S.STEPS_PER_CALL)
        return history.metrics["loss"][-1]

    fns = {"genlab": genlab_chunk}
    if peers_reason is None:
        port, fns["torchcfm"] = _torch_side(model, config, name, scale, total_steps)
    times = interleaved(fns, warmup=rep.warmup, repeats=rep.repeats)
    per_s = {k: fb.chunk_steps / t.median for k, t in times.items()}
    out = {"dataset": name, "batch_size": cfg.train.batch_size, "num_params": num_params(model),
           "chunk_steps": fb.chunk_steps, "train": {"genlab_steps_per_s": per_s["genlab"],
                                                    "genlab_chunk": times["genlab"].as_dict(),
                                                    "flops_per_step": xla_flops(step, model, optimizer, None, key)}}
    if "torchcfm" in times:
        out["train"] |= {"torchcfm_steps_per_s": per_s["torchcfm"], "torchcfm_chunk": times["torchcfm"].as_dict(),
                         "speedup": per_s["genlab"] / per_s["torchcfm"]}
    out["sampling"] = bench_dopri5(model, config, port if "torchcfm" in times else None)
    return out


def bench_dopri5(model: MLPField, config: BenchConfig, port) -> dict:
    """Dopri5 from t = 0 to 1 on ``samples`` points: diffrax (model) and torchdiffeq (``port``, given weights)."""
    fb = config.flow
    z = jax.random.normal(jax.random.key(1), (fb.samples, 2))
    fns = {"genlab": lambda i: genlab_dopri5(model, z, rtol=fb.rtol, atol=fb.atol)}
    if port is not None:
        import torch
        from torchdiffeq import odeint

        from genlab.bench.torch_ports import copy_weights

        copy_weights(model, port)  # the trained field: both integrate the same ODE
        z_t, span, nfe = torch.from_numpy(np.array(z)), torch.tensor([0.0, 1.0]), [0]

        def field(t, x):
            nfe[0] += 1
            return port(x, t)

        def torch_solve(i: int):
            nfe[0] = 0
            with torch.inference_mode():
                return odeint(field, z_t, span, method="dopri5", rtol=fb.rtol, atol=fb.atol)[-1]

        fns["torchdiffeq"] = torch_solve
    times = interleaved(fns, warmup=fb.sample_timing.warmup, repeats=fb.sample_timing.repeats)
    x, genlab_nfe = genlab_dopri5(model, z, rtol=fb.rtol, atol=fb.atol)
    out = {"samples": fb.samples, "rtol": fb.rtol, "atol": fb.atol, "genlab": times["genlab"].as_dict(),
           "genlab_nfe": int(genlab_nfe)}
    if port is not None:
        theirs = fns["torchdiffeq"](0).numpy()
        out |= {"torchdiffeq": times["torchdiffeq"].as_dict(), "torchdiffeq_nfe": nfe[0],
                "speedup": times["torchdiffeq"].median / times["genlab"].median,
                "max_abs_diff": float(np.max(np.abs(np.asarray(x) - theirs)))}
    return out
