"""The lecture figures of text-to-image on a ``Stages`` built from random arrays (no model, no training)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from genlab.figures import text_to_image as figs
from genlab.pipelines.text_to_image import Stages

B, L, D, S = 2, 8, 12, 5  # prompts, tokens, text width, sampling steps


def random_stages(seed: int = 0) -> Stages:
    rng = np.random.default_rng(seed)
    z = lambda *shape: rng.normal(size=shape).astype(np.float32)  # noqa: E731
    mask = np.zeros((B, L), bool)
    mask[0, :4] = True  # "a dark sneaker": start, 3 pieces, end would be 5; 4 is enough here
    ids = np.where(mask, rng.integers(3, 100, (B, L)), 0).astype(np.int32)
    latents = z(S + 1, B, 7, 7, 4)
    return Stages(prompts=["a dark sneaker", ""], token_ids=ids, token_mask=mask, text_states=z(B, L, D),
                  timesteps=np.linspace(999, 0, S).astype(np.int32), x_T=latents[0], latents=latents,
                  noise_estimates=z(S, B, 7, 7, 4), x0_estimates=z(S, B, 7, 7, 4), latent=latents[-1],
                  images=np.tanh(z(B, 28, 28, 1)))


def fake_decode(latents: np.ndarray) -> np.ndarray:
    """[N, 7, 7, 4] -> [N, 28, 28, 1]: the first channel upsampled (a stand-in for the VAE decoder)."""
    x = np.repeat(np.repeat(np.asarray(latents)[..., :1], 4, axis=1), 4, axis=2)
    return np.tanh(x)


def drawn(fig) -> list:
    """Render (catches errors that only drawing raises) and return the axes that show something."""
    fig.canvas.draw()
    return [ax for ax in fig.axes if ax.images or ax.texts or ax.lines or ax.collections]


def test_channel_mosaic_tiles_the_channels():
    z = np.arange(7 * 7 * 4, dtype=np.float32).reshape(7, 7, 4)
    m = figs.channel_mosaic(z)
    assert m.shape == (15, 15)
    np.testing.assert_array_equal(m[:7, :7], z[..., 0])
    np.testing.assert_array_equal(m[8:, 8:], z[..., 3])
    assert np.isnan(m[7]).all() and np.isnan(m[:, 7]).all()


@pytest.mark.parametrize("pieces", [None, ["<|startoftext|>", "a", " dark", " sneaker"]])
def test_pipeline_diagram_draws_every_stage(pieces):
    stages = random_stages()
    fig = figs.pipeline_diagram(stages, 0, pieces=pieces, shown_steps=3)
    shown = drawn(fig)
    # prompt, tokens, text states (+ colourbar), x_T, 3 latents, 3 noise estimates, final latent, image, 2 notes
    assert len(shown) >= 14, f"only {len(shown)} axes show something"
    titles = " ".join([ax.get_title() for ax in fig.axes] + [t.get_text() for ax in fig.axes for t in ax.texts])
    for term in ("Text-Encoder (CLIP)", "verrauschtes Latent", "U-Net sagt Rauschen vorher", "VAE-Decoder"):
        assert term in titles, f"the diagram names {term!r}"


def test_pipeline_diagram_of_an_empty_prompt():
    fig = figs.pipeline_diagram(random_stages(), 1)  # mask all False: the null condition
    assert drawn(fig)


def test_film_strip_with_and_without_decoder():
    stages = random_stages()
    fig = figs.denoising_film_strip(stages, steps=(0, 2, 4), decode=fake_decode)
    assert len(drawn(fig)) == 2 * 4  # 3 steps + result, latent row and decoded row
    fig = figs.denoising_film_strip(stages, decode=None, index=1, panels=10)
    assert len(drawn(fig)) == S + 1
    with pytest.raises(ValueError, match="steps must be in"):
        figs.denoising_film_strip(stages, steps=(S,))


def test_step_picks():
    assert figs.step_picks(50, 4) == [0, 16, 33, 49]
    assert figs.step_picks(2, 6) == [0, 1]


def test_denoising_animation_writes_a_gif(tmp_path):
    path = figs.denoising_animation(random_stages(), tmp_path / "sub" / "denoise.gif", fake_decode, hold=2)
    assert path.is_file() and path.stat().st_size > 0
    with Image.open(path) as gif:
        # one frame per step and the result (Pillow merges the identical hold frames into one longer frame)
        assert gif.format == "GIF" and gif.n_frames == S + 1


def test_guidance_grid_one_or_several_images_per_prompt():
    rng = np.random.default_rng(1)
    prompts = ["a coat", "a bag", "trousers"]
    one = {w: rng.uniform(-1, 1, (3, 28, 28, 1)) for w in (1.0, 3.0, 7.5)}
    assert len(drawn(figs.guidance_grid(one, prompts))) == 9
    several = {w: rng.uniform(-1, 1, (3, 4, 28, 28, 1)) for w in (1.0, 5.0)}
    fig = figs.guidance_grid(several, prompts)
    assert len(drawn(fig)) == 6 and "unguided" in fig.axes[0].get_title()
    with pytest.raises(ValueError, match="P = 3 prompts"):
        figs.guidance_grid({1.0: rng.uniform(-1, 1, (2, 28, 28, 1))}, prompts)
