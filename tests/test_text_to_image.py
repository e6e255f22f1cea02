"""TextToImage without shipped weights: a tiny random U-Net, a random VAE and a stub tokenizer and text encoder
with the shipped ones' API. Determinism, bad input, the empty prompt, and what ``return_stages`` holds."""

from __future__ import annotations

import collections

import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from genlab.models.unet import UNet, UNetConfig
from genlab.models.vae import VAE, VAEConfig
from genlab.pipelines.text_to_image import Stages, TextToImage, check_prompts
from genlab.schedules.diffusion import make_schedule

L, D, VOCAB = 8, 16, 64  # context length, text width, vocabulary of the stub
STEPS = 3
TextOut = collections.namedtuple("TextOut", "states pooled")


class StubTokenizer:
    """Words -> ids by a fixed hash; ``<start> words <end>`` padded to L, as the shipped tokenizer does."""

    context_length, pad_id, start_id, end_id = L, 0, 1, 2

    def encode(self, texts):
        ids, mask = np.zeros((len(texts), L), np.int32), np.zeros((len(texts), L), bool)
        for i, text in enumerate(texts):
            row = [1] + [3 + sum(map(ord, w)) % (VOCAB - 3) for w in text.split()][: L - 2] + [2]
            ids[i, : len(row)], mask[i, : len(row)] = row, True
        return ids, mask

    def pieces(self, prompt):
        return ["<start>", *prompt.split(), "<end>"]


class StubTextEncoder(nnx.Module):
    """``(ids [B, L], mask [B, L]) -> (states [B, L, D], pooled [B, D])``, the shipped encoder's call."""

    def __init__(self, *, rngs: nnx.Rngs):
        self.embed = nnx.Embed(VOCAB, D, rngs=rngs)

    def __call__(self, ids, mask):
        states = self.embed(ids) * mask[..., None]
        return TextOut(states, states[:, 0])


@pytest.fixture(scope="module")
def pipe() -> TextToImage:
    unet = UNet(UNetConfig(in_channels=4, channels=(8, 16), mid_attention=True, cond_dim=D, num_heads=2,
                           time_dim=16), rngs=nnx.Rngs(0))
    vae = VAE(VAEConfig.tiny(), rngs=nnx.Rngs(1))
    return TextToImage(StubTokenizer(), StubTextEncoder(rngs=nnx.Rngs(2)), unet, vae, make_schedule("linear"))


def test_same_seed_same_images_other_seed_other_images(pipe):
    a = pipe(["a dark sneaker", "a coat"], steps=STEPS, guidance=3.0, seed=0)
    b = pipe(["a dark sneaker", "a coat"], steps=STEPS, guidance=3.0, seed=0)
    c = pipe(["a dark sneaker", "a coat"], steps=STEPS, guidance=3.0, seed=1)
    assert a.shape == (2, 28, 28, 1) and a.dtype == np.float32
    assert np.abs(a).max() <= 1.0, "images are clipped to [-1, 1]"
    np.testing.assert_array_equal(a, b)
    assert np.abs(a - c).max() > 1e-4, "another seed must give other images"


@pytest.mark.parametrize("prompts, names", [
    (3, "int"), (None, "NoneType"), (["a coat", 3], "int at index 1"), ([b"a coat"], "bytes at index 0"),
    ([], "empty list"), ({"a coat"}, "set"),
])
def test_bad_prompts_raise_one_clear_type_error(pipe, prompts, names):
    with pytest.raises(TypeError, match=names):
        pipe(prompts, steps=STEPS)


def test_empty_prompt_is_the_null_condition(pipe):
    ids, mask, states = pipe.encode(["a coat", "", "   "])
    assert mask[0].any() and not mask[1].any() and not mask[2].any(), "an empty prompt masks out every token"
    np.testing.assert_array_equal(states[1:], 0.0)
    # cond = null: guidance has nothing to push, so every w gives the unconditional sample
    guided = pipe(["", "a coat"], steps=STEPS, guidance=3.0, seed=4)
    other_w = pipe(["", "a coat"], steps=STEPS, guidance=7.5, seed=4)
    np.testing.assert_allclose(guided[0], other_w[0], atol=1e-5)
    assert np.abs(guided[1] - other_w[1]).max() > 1e-5, "for a real prompt w must matter"


def test_a_single_string_is_one_prompt():
    assert check_prompts("a coat") == ["a coat"] and check_prompts(("a", "")) == ["a", ""]


def test_return_stages_shapes_and_links(pipe):
    prompts = ["a dark sneaker", "a coat"]
    stages = pipe(prompts, steps=STEPS, guidance=3.0, seed=3, return_stages=True)
    assert isinstance(stages, Stages) and stages.prompts == prompts
    shapes = {"token_ids": (2, L), "token_mask": (2, L), "text_states": (2, L, D), "timesteps": (STEPS,),
              "x_T": (2, 7, 7, 4), "latents": (STEPS + 1, 2, 7, 7, 4), "noise_estimates": (STEPS, 2, 7, 7, 4),
              "x0_estimates": (STEPS, 2, 7, 7, 4), "latent": (2, 7, 7, 4), "images": (2, 28, 28, 1)}
    for name, shape in shapes.items():
        assert getattr(stages, name).shape == shape, f"{name}: {getattr(stages, name).shape} != {shape}"
    assert stages.token_mask.dtype == bool and np.all(np.diff(stages.timesteps) < 0), "t descends"
    np.testing.assert_array_equal(stages.latents[0], stages.x_T)
    np.testing.assert_array_equal(stages.latents[-1], stages.latent)
    np.testing.assert_allclose(stages.images, pipe(prompts, steps=STEPS, guidance=3.0, seed=3), atol=1e-6)
    np.testing.assert_allclose(pipe.decode(stages.latent), stages.images, atol=1e-6)
    # step i: the latent it starts from is alpha_t x0_hat + sigma_t eps_hat (eps-prediction, no clipping)
    alpha = pipe.schedule.sqrt_alphas_cumprod[stages.timesteps][:, None, None, None, None]
    sigma = pipe.schedule.sqrt_one_minus_alphas_cumprod[stages.timesteps][:, None, None, None, None]
    np.testing.assert_allclose(alpha * stages.x0_estimates + sigma * stages.noise_estimates, stages.latents[:-1],
                               rtol=1e-4, atol=1e-4)


def test_v_pipeline_stages_show_the_noise_estimate(pipe):
    """A v-prediction U-Net on the zero-terminal-SNR schedule (genlab's default pipeline): the stages still hold
    the noise estimate eps = sigma x_t + alpha v, linked to the latent as for an eps-model; at the first step
    (alpha = 0) it is the start noise itself."""
    import dataclasses

    v_pipe = dataclasses.replace(pipe, schedule=make_schedule("linear", zero_terminal_snr=True), prediction="v")
    stages = v_pipe(["a dark sneaker", "a coat"], steps=STEPS, guidance=3.0, seed=3, return_stages=True)
    assert stages.timesteps[0] == 999 and float(v_pipe.schedule.alphas_cumprod[999]) == 0.0
    np.testing.assert_allclose(stages.noise_estimates[0], stages.x_T, atol=1e-6)
    alpha = v_pipe.schedule.sqrt_alphas_cumprod[stages.timesteps][:, None, None, None, None]
    sigma = v_pipe.schedule.sqrt_one_minus_alphas_cumprod[stages.timesteps][:, None, None, None, None]
    np.testing.assert_allclose(alpha * stages.x0_estimates + sigma * stages.noise_estimates, stages.latents[:-1],
                               rtol=1e-4, atol=1e-4)
    assert np.all(np.isfinite(stages.images))


def test_decode_takes_scaled_latents(pipe):
    z = jnp.zeros((3, 7, 7, 4))
    assert pipe.decode(z).shape == (3, 28, 28, 1)


@pytest.fixture(scope="module")
def flow_pipe(pipe) -> TextToImage:
    """The same parts read as a flow-matching U-Net: stage 4 is an ODE solver from t = 0 to 1."""
    return TextToImage(pipe.tokenizer, pipe.text_encoder, pipe.unet, pipe.vae, None, "velocity")


def test_flow_pipeline_is_deterministic_and_its_stages_follow_the_ode(flow_pipe):
    prompts = ["a dark sneaker", "a coat"]
    a = flow_pipe(prompts, steps=STEPS, guidance=3.0, seed=0)
    np.testing.assert_array_equal(a, flow_pipe(prompts, steps=STEPS, guidance=3.0, seed=0))
    assert a.shape == (2, 28, 28, 1) and not np.allclose(a, flow_pipe(prompts, steps=STEPS, guidance=3.0, seed=1))
    stages = flow_pipe(prompts, steps=STEPS, guidance=3.0, seed=0, return_stages=True)
    np.testing.assert_allclose(stages.images, a, atol=1e-6)
    np.testing.assert_allclose(stages.timesteps, np.arange(STEPS) / STEPS, atol=1e-6)  # flow time ascends from 0
    assert stages.latents.shape == (STEPS + 1, 2, 7, 7, 4) and stages.noise_estimates.shape == (STEPS, 2, 7, 7, 4)
    # Euler: each latent is the previous one plus h times the guided velocity the network gave there
    t = jnp.float32(stages.timesteps[1])
    x = jnp.asarray(stages.latents[1])
    cond, mask = jnp.asarray(stages.text_states), jnp.asarray(stages.token_mask)
    v_cond = flow_pipe.unet(x, jnp.full((2,), t), cond, mask)
    v_null = flow_pipe.unet(x, jnp.full((2,), t), jnp.zeros_like(cond), jnp.zeros_like(mask))
    np.testing.assert_allclose(stages.latents[2], x + (v_null + 3.0 * (v_cond - v_null)) / STEPS, rtol=1e-4,
                               atol=1e-4)
    # the x0 (data) estimate of a step is x_t + (1 - t) v
    np.testing.assert_allclose(stages.x0_estimates[1], stages.latents[1] + (1 - stages.timesteps[1])
                               * stages.noise_estimates[1], rtol=1e-5, atol=1e-5)


def test_flow_pipeline_guidance_one_is_the_conditional_field_and_bad_samplers_raise(flow_pipe):
    prompts = ["a coat"]
    stages = flow_pipe(prompts, steps=1, guidance=1.0, seed=2, return_stages=True)
    x = jnp.asarray(stages.x_T)
    v = flow_pipe.unet(x, jnp.zeros((1,)), jnp.asarray(stages.text_states), jnp.asarray(stages.token_mask))
    np.testing.assert_allclose(stages.latent, x + v, rtol=1e-4, atol=1e-4)  # one Euler step of length 1
    with pytest.raises(ValueError, match="unknown sampler 'ddim' for a flow pipeline"):
        flow_pipe(prompts, steps=2, sampler="ddim")
    heun = flow_pipe(prompts, steps=2, sampler="heun", seed=2)
    assert heun.shape == (1, 28, 28, 1) and np.all(np.isfinite(heun))
