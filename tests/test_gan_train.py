"""2D GAN training end to end at the tiny preset: finite metrics, coverage evaluations, experiment keys, figures."""

import dataclasses

import matplotlib

matplotlib.use("Agg")
import numpy as np
import pytest
from matplotlib.figure import Figure

from genlab.data.toy2d import RING8
from genlab.experiments import EXPERIMENTS, load
from genlab.experiments.gan import fixed_config, vanilla_config
from genlab.experiments.gan2d_setup import train_gan2d
from genlab.figures import gan2d as figs
from genlab.figures.dirac import dirac_portrait

METRICS = {"d_loss", "g_loss", "d_real", "d_fake", "grad_norm_d", "grad_norm_g", "penalty"}


@pytest.fixture(scope="module")
def tiny_run():
    return train_gan2d(fixed_config("ring8", "tiny"), seed=0, snapshots=50)


def test_tiny_run_has_finite_metrics_and_evaluations(tiny_run):
    h = tiny_run.history
    cfg = tiny_run.config
    assert set(h.metrics) == METRICS and h.steps[-1] == cfg.steps
    assert all(np.all(np.isfinite(v)) for v in h.metrics.values())
    assert [e["step"] for e in h.evals] == list(range(cfg.eval_every, cfg.steps + 1, cfg.eval_every))
    last = h.evals[-1]
    assert last["n_modes"] == 8 and len(last["covered"]) == 8 and 0 <= last["modes_covered"] <= 8
    assert sum(last["covered"]) == last["modes_covered"]
    assert sorted(tiny_run.snapshots) == [0] + [e["step"] for e in h.evals]


def test_same_seed_same_numbers():
    cfg = dataclasses.replace(vanilla_config("ring8", "tiny"), steps=10, eval_every=10)
    a, b = train_gan2d(cfg, seed=3), train_gan2d(cfg, seed=3)
    assert a.history.metrics == b.history.metrics and a.final == b.final


def test_figures_return_figures(tiny_run, tmp_path):
    h = tiny_run.history
    assert isinstance(figs.samples_over_training(tiny_run.snapshots, RING8.centers, history=h), Figure)
    assert isinstance(figs.coverage_over_time({"a": h, "b": h}), Figure)
    assert isinstance(figs.d_outputs_and_grad_norms(h), Figure)
    assert isinstance(dirac_portrait(steps=20), Figure)
    gif = figs.training_animation(tiny_run.snapshots, RING8.centers, tmp_path / "run.gif", history=h)
    assert gif.read_bytes()[:6] in (b"GIF89a", b"GIF87a")
    with pytest.raises(ValueError, match="snapshots"):
        figs.samples_over_training({}, RING8.centers)
    last = tiny_run.snapshots[max(tiny_run.snapshots)]
    fig = figs.arms_comparison({"one": (h, last), "two": (h, last)}, RING8.centers)
    assert isinstance(fig, Figure) and len(fig.axes) == 5  # a scatter per arm, then gradient, modes, quality
    assert fig.axes[0].get_title().startswith("one\n") and "modes" in fig.axes[0].get_title()
    with pytest.raises(ValueError, match="arms is empty"):
        figs.arms_comparison({}, RING8.centers)


def test_experiments_at_tiny_preset_return_the_metric_keys():
    load()
    assert {"gan-ring8", "gan-grid25", "gan-divergence"} <= set(EXPERIMENTS)
    assert EXPERIMENTS["gan-ring8"].variants == ("vanilla", "fixed") and EXPERIMENTS["gan-ring8"].default_seeds == 5
    out = EXPERIMENTS["gan-grid25"].run(preset="tiny", seeds=[0], variant="fixed")
    for key in ("modes_covered_mean", "modes_covered_std", "high_quality_mean", "high_quality_std", "per_seed",
                "seconds_per_seed"):
        assert key in out
    assert out["n_modes"] == 25 and out["per_seed"][0]["seed"] == 0
    assert {"modes_covered", "high_quality_fraction", "seconds", "findings"} <= set(out["per_seed"][0])


@pytest.mark.slow
def test_divergence_experiment_reports_three_arms():
    load()
    out = EXPERIMENTS["gan-divergence"].run(preset="tiny", seeds=[0], variant=None)
    assert set(out) == {"minimax", "non_saturating", "fixed"}
    for arm in out.values():
        assert {"modes_covered_mean", "high_quality_mean", "final_d_fake_mean", "final_grad_norm_g_mean",
                "modes_visited_mean", "per_seed"} <= set(arm)


@pytest.mark.parametrize("preset", ["tiny", "cpu", "gpu"])
def test_divergence_arms_share_the_too_strong_discriminator(preset):
    """The fix must beat the strong D, not remove it: every arm gives D the same steps, learning rate and size,
    the same budget and G's point-mass start; only minimax uses the saturating loss."""
    from genlab.experiments.gan import DIVERGENCE_ARMS, divergence_config

    cfgs = {arm: divergence_config(arm, preset) for arm in DIVERGENCE_ARMS}
    for arm, cfg in cfgs.items():
        assert (cfg.n_critic, cfg.lr_d, cfg.d_depth, cfg.d_width, cfg.steps, cfg.g_out_init) == (
            5, 3e-3, 2, cfgs["minimax"].d_width, cfgs["minimax"].steps, 0.01), arm
        assert cfg.lr_d >= 3 * cfg.lr_g, f"{arm}: D's learning rate must stay ahead of G's"
        assert (cfg.loss == "minimax") == (arm == "minimax"), arm
    assert cfgs["fixed"].r1_gamma > 0 and cfgs["fixed"].pack == 2
    with pytest.raises(ValueError, match="unknown divergence arm"):
        divergence_config("wgan", preset)


@pytest.mark.slow
def test_gan2d_demo_writes_every_figure(tmp_path):
    from genlab.experiments.gan import make_demo

    files = make_demo("tiny", tmp_path)
    names = {p.name for p in files}
    assert {"ring8_vanilla_samples.png", "ring8_fixed_samples.png", "ring8_coverage.png", "ring8_divergence_d.png",
            "ring8_divergence_arms.png", "diracgan_portrait.png", "ring8_vanilla.gif", "ring8_fixed.gif"} <= names
    for p in files:
        head = p.read_bytes()[:8]
        assert head.startswith(b"\x89PNG") or head.startswith(b"GIF8"), p.name
