"""``genlab eval latent-diffusion`` end to end at tiny, in the variant that trains all three parts here."""

from __future__ import annotations

import numpy as np
import pytest

from genlab.experiments import get

KEYS = ("prompt_accuracy", "prompt_accuracy_dpmpp_10", "tone_accuracy", "size_accuracy",
        "heldout_combination_accuracy", "fd", "fd_floor", "fd_vae_recon", "guidance_sweep", "steps_sweep",
        "train_seconds", "sample_seconds_64")


@pytest.mark.slow
def test_from_scratch_trains_vae_and_text_encoder_then_reports_every_key():
    from genlab.experiments.latent_diffusion import frozen_parts
    from genlab.pipelines.latents import load_vae
    from genlab.pipelines.text import load_text_encoder

    exp = get("latent-diffusion")
    config = exp.configure("tiny", "from-scratch")
    assert config.from_scratch and not exp.configure("tiny").from_scratch
    parts = frozen_parts(config, 0)
    assert parts.source == "trained here" and set(parts.seconds) == {"vae_train_seconds", "clip_train_seconds"}
    shipped_vae, (_, shipped_text) = load_vae(), load_text_encoder()
    assert parts.vae.config != shipped_vae.config or not np.allclose(
        parts.vae.enc_in.kernel[...], shipped_vae.enc_in.kernel[...]), "a VAE trained here, not the shipped one"
    ids = np.array([[1, 5, 2, 0]], np.int32)
    mask = ids > 0
    mine, shipped = np.asarray(parts.text_encoder(ids, mask).states), np.asarray(shipped_text(ids, mask).states)
    assert mine.shape != shipped.shape or not np.allclose(mine, shipped), "a text encoder trained here"

    out = exp.run(config, [0])
    missing = [k for k in KEYS if k not in out]
    assert not missing, f"missing keys {missing}"
    assert out["frozen_parts"] == "trained here" and out["vae_train_seconds"] > 0
    assert all(0.0 <= out[k] <= 1.0 for k in KEYS[:5])
    assert [p["guidance"] for p in out["guidance_sweep"]] == list(config.eval.guidance_sweep)
    assert all({"tone_accuracy", "size_accuracy", "fd"} <= set(p) for p in out["guidance_sweep"])


def test_default_is_v_on_zero_snr_and_the_eps_variant_changes_only_the_target_and_the_schedule():
    from genlab.schedules.diffusion import Schedule

    exp = get("latent-diffusion")
    for preset in ("tiny", "cpu", "gpu"):
        default, eps = exp.configure(preset), exp.configure(preset, "eps")
        assert (default.objective.prediction, eps.objective.prediction) == ("v", "eps")
        assert float(Schedule.from_config(default.objective.schedule).alphas_cumprod[-1]) == 0.0  # zero terminal SNR
        assert float(Schedule.from_config(eps.objective.schedule).alphas_cumprod[-1]) > 0.0
        same = lambda c: (c.model, c.train, c.optim, c.eval, c.objective.cond_drop,  # noqa: E731
                          c.objective.schedule.kind, c.objective.schedule.beta_end)
        assert same(default) == same(eps), "the variant must keep the budget, the network and the evaluation"
        assert (default.shipped_in, eps.shipped_in) == ("ldm", "ldm_eps")


def test_shipped_pipelines_record_what_their_unet_predicts():
    """TextToImage.load() is the default v-model, LDM_EPS_DIR the lecture's eps-model; each json says which, on
    which schedule, and the ship command that wrote it."""
    from genlab.pipelines.text_to_image import LDM_DIR, LDM_EPS_DIR
    from genlab.train.checkpoint import read_info

    v, e = read_info(LDM_DIR, "unet", "-"), read_info(LDM_EPS_DIR, "unet", "-")
    assert (v["prediction"], v["schedule"]["zero_terminal_snr"]) == ("v", True)
    assert (e["prediction"], e["schedule"]["zero_terminal_snr"]) == ("eps", False)
    assert v["config"] == e["config"] and (v["steps"], v["batch_size"]) == (e["steps"], e["batch_size"])
