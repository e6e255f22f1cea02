"""unet-skip and vae-fmnist: registered, tiny runs report sane numbers, the figures draw."""

import dataclasses
import math

import numpy as np
import pytest
from matplotlib.figure import Figure

from genlab import experiments
from genlab.demos.unet_vae import interpolate
from genlab.figures import unet as unet_figures
from genlab.figures import vae as vae_figures
from genlab.metrics.psnr import psnr


def _run_tiny(name: str) -> dict:
    exp = experiments.get(name)
    return exp.run(exp.configure("tiny"), [0])


def test_experiments_and_demo_are_registered():
    experiments.load()
    assert {"unet-skip", "vae-fmnist"} <= set(experiments.EXPERIMENTS)
    assert experiments.DEMOS["unet_vae"].order == 30


def test_psnr_of_gaussian_noise_is_20_log10_of_range_over_sigma():
    x = np.zeros((4, 28, 28, 1))
    noisy = x + 0.2 * np.random.default_rng(0).standard_normal(x.shape)
    assert np.mean(psnr(noisy, x)) == pytest.approx(20 * math.log10(2 / 0.2), abs=0.2)
    assert psnr(x, x)[0] == np.inf
    with pytest.raises(ValueError, match="same shape"):
        psnr(x, x[:2])


def test_interpolation_starts_and_ends_at_the_two_latents():
    a, b = np.zeros((7, 7, 4), np.float32), np.ones((7, 7, 4), np.float32)
    path = interpolate(a, b, 5)
    assert path.shape == (5, 7, 7, 4)
    np.testing.assert_allclose(path[0], a)
    np.testing.assert_allclose(path[-1], b)
    np.testing.assert_allclose(path[2], 0.5)


def test_figures_draw_from_arrays():
    rng = np.random.default_rng(0)
    img = lambda *s: np.tanh(rng.standard_normal(s)).astype(np.float32)  # noqa: E731
    sigmas = (0.1, 0.4)
    table = {f"sigma={s:g}": {"noisy": 20.0 - 10 * s, "skip": 25.0 - 5 * s, "no_skip": 22.0 - 3 * s} for s in sigmas}
    figs = [
        unet_figures.denoising_examples(img(3, 28, 28, 1), {s: img(3, 28, 28, 1) for s in sigmas},
                                        {n: {s: img(3, 28, 28, 1) for s in sigmas} for n in ("skip", "no_skip")},
                                        table),
        unet_figures.psnr_vs_noise(table),
        vae_figures.reconstructions(img(5, 28, 28, 1), img(5, 28, 28, 1), 21.0),
        vae_figures.interpolations(img(2, 6, 28, 28, 1)),
        vae_figures.prior_samples(img(8, 28, 28, 1)),
        vae_figures.latent_channels(img(2, 28, 28, 1), img(2, 7, 7, 4)),
    ]
    assert all(isinstance(f, Figure) for f in figs)


@pytest.mark.slow
def test_unet_skip_tiny_run_reports_psnr_per_noise_level():
    result = _run_tiny("unet-skip")
    sigmas = result["sigmas"]
    assert sigmas == [0.1, 0.2, 0.4, 0.8] and len(result["gap_db"]) == 4
    assert result["num_params"]["skip"] == result["num_params"]["no_skip"]
    for s in sigmas:
        row = result["psnr_db"][f"sigma={s:g}"]
        assert row["noisy"] == pytest.approx(20 * math.log10(2 / s), abs=0.5)  # the baseline is the noise
        assert row["gap_db"] == pytest.approx(row["skip"] - row["no_skip"], abs=0.02)
        assert all(math.isfinite(row[k]) for k in ("skip", "no_skip"))
    assert result["largest_gap_at_sigma"] in sigmas


@pytest.mark.slow
def test_vae_tiny_run_reports_latent_scale_and_classifier_accuracy():
    result = _run_tiny("vae-fmnist")
    assert result["latent_shape"] == [7, 7, 4]
    assert result["kl_per_dim"] > 0 and result["latent_scale"] > 0 and math.isfinite(result["recon_psnr_db"])
    # Scale computed on train images, checked on test images: about unit variance.
    assert result["scaled_latent_std"] == pytest.approx(1.0, abs=0.25)
    for k in ("classifier_acc_originals", "classifier_acc_recon", "classifier_agreement"):
        assert 0.0 <= result[k] <= 1.0
    assert result["classifier_acc_originals"] > 0.7  # the judge itself works on real test images


@pytest.mark.slow
def test_demo_writes_its_figures(tmp_path, monkeypatch):
    """The demo's pipeline from models to PNG files; training itself is covered by the two runs above, so
    here the trainings are replaced by freshly initialised models (no train-step compilation)."""
    from flax import nnx

    from genlab.experiments import unet_skip
    from genlab.experiments import vae as vae_experiment

    def untrained_denoiser(config, images, *, skip, seed, progress=False):
        return unet_skip.UNet(dataclasses.replace(config.model, skip=skip), rngs=nnx.Rngs(seed)), None

    def untrained_vae(config, images, *, seed, progress=False):
        return vae_experiment.VAE(config.model, rngs=nnx.Rngs(seed)), None

    monkeypatch.setattr(unet_skip, "train_denoiser", untrained_denoiser)
    monkeypatch.setattr(vae_experiment, "train_vae", untrained_vae)
    experiments.load()
    files = experiments.DEMOS["unet_vae"]
    files = files.make(files.configure("tiny"), tmp_path)
    names = {f.name for f in files}
    assert {"unet_denoising_examples.png", "unet_psnr_vs_noise.png", "vae_reconstructions.png",
            "vae_interpolations.png", "vae_prior_samples.png", "vae_latent_channels.png"} == names
    assert all(f.is_file() and f.stat().st_size > 1000 for f in files)
