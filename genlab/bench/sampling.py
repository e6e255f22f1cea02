"""Measurement 2: guided DDIM sampling, genlab's compiled loop against diffusers' scheduler loop, same weights.

Both sides start from the shipped text-to-image pipeline (``TextToImage.load()``: v-prediction on the
zero-terminal-SNR schedule; ``pipe=TextToImage.load(LDM_EPS_DIR)`` for the lecture's ε-model): the same prompts are
encoded once by the shipped text encoder, the same start noise ``x_T: [P, 7, 7, 4]`` is drawn, and the shipped
U-Net's weights are copied into the PyTorch port. Then

- genlab: ``genlab.samplers.diffusion.sample`` (DDIM, eta 0, trailing steps, guidance as one call on
  ``[x; x]`` with ``[cond; null]``), the whole loop one compiled ``lax.scan``;
- diffusers: ``DDIMScheduler`` (the shipped schedule: linear betas 1e-4..0.02, T = 1000, ``rescale_betas_zero_snr``
  where the pipeline's schedule is rescaled, trailing spacing, ``set_alpha_to_one``, no clipping, the pipeline's
  prediction type) driving the port in a Python loop under ``torch.inference_mode``, as a diffusers pipeline
  does: ``latent_model_input = cat([x, x])``, one U-Net call, ``out_null + w (out_cond - out_null)``,
  ``scheduler.step``.

Timed: the sampling loop alone (text encoding and VAE decoding are outside, on both sides). The cross-check is
the largest absolute difference between the two final latents: the samplers agree when it is at float32 level.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from genlab.bench.config import SamplingBench
from genlab.bench.timing import interleaved, xla_flops
from genlab.data.captions import captions_for
from genlab.pipelines.text_to_image import TextToImage
from genlab.objectives.diffusion import null_condition
from genlab.samplers.diffusion import SamplerConfig, sample
from genlab.samplers.guidance import model_output


def diffusers_scheduler(pipe: TextToImage, steps: int):
    """A ``DDIMScheduler`` with the pipeline's schedule, set to ``steps`` trailing steps."""
    from diffusers import DDIMScheduler

    cfg = pipe.schedule.config
    if cfg.kind not in ("linear", "scaled_linear"):
        raise ValueError(f"the diffusers side maps linear/scaled_linear schedules only, got {cfg}")
    scheduler = DDIMScheduler(num_train_timesteps=cfg.num_timesteps, beta_start=cfg.beta_start, beta_end=cfg.beta_end,
                              beta_schedule=cfg.kind, clip_sample=False, set_alpha_to_one=True,
                              rescale_betas_zero_snr=cfg.zero_terminal_snr,
                              timestep_spacing="trailing", prediction_type={"eps": "epsilon", "v": "v_prediction",
                                                                            "x0": "sample"}[pipe.prediction])
    scheduler.set_timesteps(steps)
    return scheduler


def diffusers_loop(port, scheduler, x_T, cond, cond_mask, guidance: float):
    """The diffusers pipeline's denoising loop on the PyTorch port: ``[B, h, w, c]`` tensors in and out."""
    import torch

    null, null_mask = torch.zeros_like(cond), torch.zeros_like(cond_mask)
    cond2, mask2 = torch.cat([null, cond]), torch.cat([null_mask, cond_mask])
    x = x_T
    with torch.inference_mode():
        for t in scheduler.timesteps:
            model_input = scheduler.scale_model_input(torch.cat([x, x]), t)
            out = port(model_input, t.expand(model_input.shape[0]), cond2, mask2)
            out_null, out_cond = out.chunk(2)
            out = out_null + guidance * (out_cond - out_null)
            x = scheduler.step(out, t, x).prev_sample
    return x


@nnx.jit
def _guided_call(unet, x, cond, cond_mask, guidance):
    """One step's network work: the samplers' guided call on ``[x; x]`` with ``[cond; null]``."""
    null, null_mask = null_condition(cond)
    return model_output(unet, x, 500, cond, cond_mask, null, null_mask, guidance, guided=True)


def bench_sampling(config: SamplingBench, peers_reason: str | None, pipe: TextToImage | None = None) -> dict:
    """Median seconds of one ``config.steps``-step guided DDIM run for ``config.prompts`` prompts, per side,
    their ratio, and the largest difference of the final latents (same weights, same noise)."""
    pipe = pipe or TextToImage.load()
    prompts = captions_for(np.arange(config.prompts) % 10, seed=0)
    _, mask, states = pipe.encode(prompts)
    x_T = jax.random.normal(jax.random.key(0), (config.prompts, *pipe.latent_shape))
    sampler = SamplerConfig(sampler="ddim", steps=config.steps, spacing="trailing", prediction=pipe.prediction)
    cond, cond_mask = jnp.asarray(states), jnp.asarray(mask)
    key = jax.random.key(1)  # DDIM with eta 0 draws no noise

    def genlab_run(i: int):
        return sample(pipe.unet, x_T, pipe.schedule, key, config=sampler, cond=cond, cond_mask=cond_mask,
                      guidance=config.guidance).x0

    fns = {"genlab": genlab_run}
    if peers_reason is None:
        import torch

        from genlab.bench.torch_ports import TorchUNet, copy_weights

        port = copy_weights(pipe.unet, TorchUNet(pipe.unet.config)).eval()
        scheduler = diffusers_scheduler(pipe, config.steps)
        t_x, t_cond, t_mask = (torch.from_numpy(np.array(a)) for a in (x_T, states, mask))
        fns["diffusers"] = lambda i: diffusers_loop(port, scheduler, t_x, t_cond, t_mask, config.guidance)
    times = interleaved(fns, warmup=config.timing.warmup, repeats=config.timing.repeats)
    out = {"prompts": config.prompts, "steps": config.steps, "guidance": config.guidance,
           "sampler": "ddim, eta 0, trailing", "unet_calls_per_step": 1, "unet_batch": 2 * config.prompts, "genlab": times["genlab"].as_dict()}
    # the arithmetic: one guided call per step (the sampler's own update is a few elementwise ops)
    out["flops_per_run"] = config.steps * xla_flops(_guided_call, pipe.unet, x_T, cond, cond_mask, config.guidance)
    if "diffusers" in times:
        ours = np.asarray(genlab_run(0))
        theirs = fns["diffusers"](0).numpy()
        out |= {"diffusers": times["diffusers"].as_dict(),
                "speedup": times["diffusers"].median / times["genlab"].median,
                "max_abs_diff": float(np.max(np.abs(ours - theirs))),
                "latent_abs_max": float(np.max(np.abs(ours)))}
    return out
