"""Text to image, stage by stage, as the lecture draws it (Rombach et al. 2022, fig. 3).

    pipe = TextToImage.load()                               # shipped weights, offline (v-prediction, zero SNR)
    pipe = TextToImage.load(LDM_EPS_DIR)                    # the lecture's eps-prediction U-Net (labs 03, 05)
    images = pipe(["a dark sneaker", "a coat"], steps=50, guidance=5.0, sampler="ddim", seed=0)  # [2, 28, 28, 1]
    stages = pipe(["a dark sneaker"], return_stages=True)   # every intermediate tensor

1. the prompt is split into tokens (``genlab.text.tokenizer``): ids ``[B, L]`` and a mask;
2. the CLIP-style text encoder turns them into per-token states ``[B, L, D]`` (the condition);
3. a random noisy latent ``x_T: [B, 7, 7, 4]`` is drawn from the seed;
4. the U-Net predicts the noise in the latent, reading the text through cross-attention (a v-prediction U-Net,
   the default, predicts ``v = alpha eps - sigma x0``; the sampler reads the noise estimate from it); the sampler
   (DDPM, DDIM or DPM-Solver++) steps to a less noisy latent, ``steps`` times, in one compiled loop, with
   classifier-free guidance ``eps = eps_null + w (eps_cond - eps_null)`` (``w = 1``: unguided);
5. the VAE decoder turns the final latent into pixels ``[B, 28, 28, 1]`` in [-1, 1].

An empty prompt is the null condition (every token masked out, as in training): an unconditional sample.

A flow-matching U-Net (``prediction="velocity"``, ``genlab eval flow-latent``) runs the same five stages; stage 4
is then an ODE solver (``FLOW_SAMPLERS``: Euler, midpoint, Heun, RK4, Dopri5) from noise at t = 0 to the latent
at t = 1, guided by ``v = v_null + w (v_cond - v_null)``.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from genlab.data.captions import NULL_CAPTION
from genlab.models.unet import UNet, UNetConfig
from genlab.pipelines.latents import load_vae
from genlab.pipelines.text import load_text_encoder, text_states
from genlab.samplers.diffusion import SamplerConfig, sample
from genlab.samplers.ode import STAGES, sample_text_flow
from genlab.schedules.diffusion import Schedule, ScheduleConfig
from genlab.shipped import shipped
from genlab.train.checkpoint import load_weights, read_info

LDM_DIR = shipped("ldm")  # genlab's default: v-prediction on the zero-terminal-SNR schedule
LDM_EPS_DIR = shipped("ldm_eps")  # the lecture's eps-prediction on the DDPM schedule
FLOW_SAMPLERS = (*STAGES, "dopri5")  # the samplers of a flow pipeline (prediction "velocity")
REGENERATE = "genlab ship latent-diffusion"
REGENERATE_EPS = REGENERATE + " --variant eps"  # writes LDM_EPS_DIR


@dataclasses.dataclass
class Stages:
    """Every stage of one call: tokens, text states, start noise, the latents and noise estimates per step,
    the x0 estimates per step, the final latent and the decoded images."""

    prompts: list[str]
    token_ids: np.ndarray  # [B, L] int32
    token_mask: np.ndarray  # [B, L] bool (all False for an empty prompt: the null condition)
    text_states: np.ndarray  # [B, L, D]
    timesteps: np.ndarray  # [steps] the t of each step: diffusion steps descending (flow: times ascending in [0, 1))
    x_T: np.ndarray  # [B, h, w, c] the initial noise (scaled latent space)
    latents: np.ndarray  # [steps + 1, B, h, w, c]: x_T, then the latent after every step
    noise_estimates: np.ndarray  # [steps, B, h, w, c] the guided noise estimate of every step (flow: the velocity)
    x0_estimates: np.ndarray  # [steps, B, h, w, c] the clean latent the network sees at every step
    latent: np.ndarray  # [B, h, w, c] the final latent
    images: np.ndarray  # [B, 28, 28, 1] decoded, clipped to [-1, 1]


def check_prompts(prompts) -> list[str]:
    """A list of strings, or one clear error naming what is wrong."""
    if isinstance(prompts, str):
        return [prompts]
    if not isinstance(prompts, (list, tuple)):
        raise TypeError(f"prompts must be a string or a non-empty list of strings, got {type(prompts).__name__}")
    if not prompts:
        raise TypeError("prompts is an empty list: pass at least one string ('' for an unconditional sample)")
    bad = [(i, type(p).__name__) for i, p in enumerate(prompts) if not isinstance(p, str)]
    if bad:
        raise TypeError(f"every prompt must be a string; got {', '.join(f'{t} at index {i}' for i, t in bad)} "
                        "(use '' for an unconditional sample)")
    return list(prompts)


@nnx.jit
def _decode(vae, z):
    return jnp.clip(vae.decode(z / vae.latent_scale[...]), -1.0, 1.0)


@dataclasses.dataclass
class TextToImage:
    """Tokenizer, text encoder, U-Net, VAE and schedule; ``__call__`` runs the five stages."""

    tokenizer: object
    text_encoder: object
    unet: UNet
    vae: object
    schedule: Schedule | None  # None for a flow pipeline
    prediction: str = "eps"  # eps, v, x0 (diffusion) or "velocity" (flow matching on the OT path)

    @classmethod
    def load(cls, folder: str | Path | None = None) -> TextToImage:
        """The shipped pipeline (``data/ldm`` with the shipped VAE and text encoder); no download, no training.
        ``folder``: another U-Net's, e.g. :data:`LDM_EPS_DIR` (the lecture's eps-prediction model)."""
        folder = Path(folder) if folder is not None else LDM_DIR
        regenerate = REGENERATE_EPS if folder.name == LDM_EPS_DIR.name else REGENERATE
        info = read_info(folder, "unet", regenerate)
        tokenizer, text_encoder = load_text_encoder()
        config = UNetConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in info["config"].items()})
        unet = load_weights(UNet(config, rngs=nnx.Rngs(0)), folder, "unet", regenerate)
        schedule = Schedule.from_config(ScheduleConfig(**info["schedule"])) if info.get("schedule") else None
        return cls(tokenizer, text_encoder, unet, load_vae(), schedule, info.get("prediction", "eps"))

    @property
    def latent_shape(self) -> tuple[int, int, int]:
        return tuple(self.vae.config.latent_shape())

    def encode(self, prompts) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``prompts`` -> ``(ids [B, L], mask [B, L], states [B, L, D])``; an empty prompt gets the null condition
        (zero states, mask all False). An over-long prompt is truncated by the tokenizer, with a warning."""
        prompts = check_prompts(prompts)
        ids, mask = self.tokenizer.encode(prompts)  # tokenized once: the ids are a stage of their own
        states = text_states(self.text_encoder, ids, mask)
        null = np.array([p.strip() == NULL_CAPTION for p in prompts])
        mask = np.where(null[:, None], False, np.asarray(mask, bool))
        states = np.where(null[:, None, None], 0.0, states).astype(np.float32)
        return np.asarray(ids), mask, states

    def decode(self, latents) -> np.ndarray:
        """Stage 5 alone: scaled latents ``[N, h, w, c]`` -> images ``[N, 28, 28, 1]`` in [-1, 1] (the VAE decoder);
        e.g. the x0 estimates of :class:`Stages` for a film strip of the denoising."""
        return np.asarray(_decode(self.vae, jnp.asarray(latents, jnp.float32)))

    @property
    def is_flow(self) -> bool:
        """A flow-matching U-Net (it predicts a velocity; sampled by an ODE solver)."""
        return self.prediction == "velocity"

    def __call__(self, prompts, *, steps: int = 50, guidance: float = 5.0, sampler: str | None = None,
                 seed: int = 0, eta: float = 0.0, return_stages: bool = False):
        """Images ``[B, 28, 28, 1]`` in [-1, 1] for ``prompts`` (or :class:`Stages` with ``return_stages``).

        Same prompts, settings and seed: the same images. ``guidance`` is w of
        ``eps_null + w (eps_cond - eps_null)``; 1 is unguided. ``sampler``: ``ddim`` (default), ``ddpm`` or
        ``dpmpp_2m``; for a flow pipeline one of ``FLOW_SAMPLERS`` (default ``euler``).
        """
        prompts = check_prompts(prompts)
        ids, mask, states = self.encode(prompts)
        k_noise, k_sample = jax.random.split(jax.random.key(seed))
        x_T = jax.random.normal(k_noise, (len(prompts), *self.latent_shape))
        if self.is_flow:
            return self._flow(prompts, ids, mask, states, x_T, steps=steps, guidance=guidance,
                              sampler=sampler or "euler", return_stages=return_stages)
        config = SamplerConfig(sampler=sampler or "ddim", steps=steps, eta=eta, prediction=self.prediction)
        out = sample(self.unet, x_T, self.schedule, k_sample, config=config, cond=jnp.asarray(states),
                     cond_mask=jnp.asarray(mask), guidance=float(guidance), return_trajectory=return_stages)
        images = self.decode(out.x0)
        if not return_stages:
            return images
        tr = out.trajectory
        return Stages(prompts, ids, mask, states, np.asarray(tr.timesteps), np.asarray(x_T), np.asarray(tr.x_t),
                      np.asarray(tr.eps), np.asarray(tr.x0), np.asarray(out.x0), images)

    def _flow(self, prompts, ids, mask, states, x_T, *, steps, guidance, sampler, return_stages):
        """Stage 4 of a flow pipeline: the ODE from noise (t = 0) to the latent (t = 1). In the stages, the
        "noise estimate" of a step is the velocity it moved with (the field value for Euler) and the x0 estimate
        the data it points at, ``x_t + (1 - t) v``."""
        if sampler not in FLOW_SAMPLERS:
            raise ValueError(f"unknown sampler {sampler!r} for a flow pipeline: choose one of "
                             f"{', '.join(FLOW_SAMPLERS)}")
        if steps < 1:
            raise ValueError(f"steps must be >= 1, got {steps}")
        sol = sample_text_flow(self.unet, x_T, jnp.asarray(states), jnp.asarray(mask),
                               jnp.asarray(guidance, jnp.float32), method=sampler, steps=steps,
                               guided=float(guidance) != 1.0, trajectory=return_stages)
        images = self.decode(sol.x)
        if not return_stages:
            return images
        xs, ts = np.asarray(sol.xs), np.asarray(sol.ts)
        h = (ts[1:] - ts[:-1]).reshape(-1, 1, 1, 1, 1)
        velocity = (xs[1:] - xs[:-1]) / h  # [steps, B, h, w, c]
        x1_hat = xs[:-1] + (1.0 - ts[:-1]).reshape(-1, 1, 1, 1, 1) * velocity
        return Stages(prompts, ids, mask, states, ts[:-1], np.asarray(x_T), xs, velocity, x1_hat, np.asarray(sol.x),
                      images)

    def generate(self, prompts: list[str], *, batch: int = 250, **kwargs) -> np.ndarray:
        """Many prompts in batches of ``batch`` (one compiled shape: the last batch is padded with empty prompts);
        seeds ``seed, seed + 1, ...`` per batch. Returns ``[N, 28, 28, 1]``."""
        prompts = check_prompts(prompts)
        seed = kwargs.pop("seed", 0)
        out = []
        for i, start in enumerate(range(0, len(prompts), batch)):
            part = prompts[start : start + batch]
            padded = part + [NULL_CAPTION] * (batch - len(part)) if len(prompts) > batch else part
            out.append(self(padded, seed=seed + i, **kwargs)[: len(part)])
        return np.concatenate(out)


def pipeline_info(unet_config: UNetConfig, schedule: ScheduleConfig | None, prediction: str) -> dict:
    """What :meth:`TextToImage.load` reads from ``unet.json`` (beside ``unet.npz``) to rebuild the pipeline
    (``schedule=None`` and ``prediction="velocity"`` for a flow-matching U-Net)."""
    return {"config": dataclasses.asdict(unet_config),
            "schedule": None if schedule is None else dataclasses.asdict(schedule), "prediction": prediction}
