"""2D GAN training end to end at the tiny preset: finite metrics, coverage evaluations, presets and variants,
experiment keys, figures."""

import matplotlib

matplotlib.use("Agg")
import numpy as np
import pytest
from matplotlib.figure import Figure

from genlab.data.toy2d import RING8
from genlab.experiments import EXPERIMENTS, gan2d
from genlab.experiments.gan2d import Ring8Config, fixed, train_gan2d
from genlab.figures import gan2d as figs
from genlab.figures.dirac import dirac_portrait

METRICS = {"d_loss", "g_loss", "d_real", "d_fake", "grad_norm_d", "grad_norm_g", "penalty"}


@pytest.fixture(scope="module")
def tiny_run():
    return train_gan2d(fixed(Ring8Config.tiny()), seed=0, snapshots=50)


def test_tiny_run_has_finite_metrics_and_evaluations(tiny_run):
    h = tiny_run.history
    steps, every = tiny_run.config.train.steps, tiny_run.config.eval.every
    assert set(h.metrics) == METRICS and h.steps[-1] == steps
    assert all(np.all(np.isfinite(v)) for v in h.metrics.values())
    assert [e["step"] for e in h.evals] == list(range(every, steps + 1, every))
    last = h.evals[-1]
    assert last["n_modes"] == 8 and len(last["covered"]) == 8 and 0 <= last["modes_covered"] <= 8
    assert sum(last["covered"]) == last["modes_covered"]
    assert sorted(tiny_run.snapshots) == [0] + [e["step"] for e in h.evals]


def test_same_seed_same_numbers():
    cfg = gan2d.with_steps(Ring8Config.tiny(), 10, every=10)
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


@pytest.mark.parametrize("preset", ["tiny", "cpu", "gpu"])
def test_fixed_recipe_per_data_set_and_preset(preset):
    """The fixed edit changes the recipe, keeps the preset's network widths, and takes its sizes from the preset:
    grid25 trains twice as long as ring8, decays earlier and works at scale 4 (R1's γ scaled by 4²)."""
    ring8, grid25 = (EXPERIMENTS[name].configure(preset, "fixed") for name in ("gan-ring8", "gan-grid25"))
    vanilla = EXPERIMENTS["gan-ring8"].configure(preset, "vanilla")
    assert vanilla.objective.pack == 1 and vanilla.objective.r1_gamma == 0 and vanilla.optim_g.learning_rate == 1e-4
    for cfg, scale in ((ring8, 1.0), (grid25, 4.0)):
        assert (cfg.objective.loss, cfg.objective.pack, cfg.model.data_scale) == ("non_saturating", 2, scale)
        assert cfg.objective.r1_gamma == pytest.approx(0.01 * scale**2)
        assert (cfg.model.g_depth, cfg.model.d_depth, cfg.model.d_activation) == (3, 2, "leaky_relu")
        assert (cfg.model.g_width, cfg.model.d_width) == (vanilla.model.g_width, vanilla.model.d_width)
        assert cfg.optim_g == cfg.optim_d and (cfg.optim_g.b2, cfg.optim_g.final_fraction) == (0.99, 0.02)
    if preset != "tiny":
        assert grid25.train.steps == 2 * ring8.train.steps > vanilla.train.steps
        assert grid25.optim_g.decay_from < ring8.optim_g.decay_from
    assert EXPERIMENTS["gan-ring8"].configure(preset) == vanilla and grid25.data == "grid25"
    with pytest.raises(ValueError, match="choose one of vanilla, fixed"):
        EXPERIMENTS["gan-ring8"].configure(preset, "nope")


def test_experiments_at_tiny_preset_return_the_metric_keys():
    assert {"gan-ring8", "gan-grid25", "gan-divergence"} <= set(EXPERIMENTS)
    assert list(EXPERIMENTS["gan-ring8"].variants) == ["vanilla", "fixed"]
    assert EXPERIMENTS["gan-ring8"].default_seeds == 5
    exp = EXPERIMENTS["gan-grid25"]
    out = exp.run(exp.configure("tiny", "fixed"), seeds=[0])
    for key in ("modes_covered_mean", "modes_covered_std", "high_quality_mean", "high_quality_std", "per_seed",
                "seconds_per_seed"):
        assert key in out
    assert out["n_modes"] == 25 and out["per_seed"][0]["seed"] == 0
    assert {"modes_covered", "high_quality_fraction", "seconds", "findings"} <= set(out["per_seed"][0])


@pytest.mark.slow
def test_divergence_experiment_reports_three_arms():
    exp = EXPERIMENTS["gan-divergence"]
    out = exp.run(exp.configure("tiny"), seeds=[0])
    assert set(out) == {"minimax", "non_saturating", "fixed"}
    for arm in out.values():
        assert {"modes_covered_mean", "high_quality_mean", "final_d_fake_mean", "final_grad_norm_g_mean",
                "modes_visited_mean", "per_seed"} <= set(arm)


@pytest.mark.parametrize("preset", ["tiny", "cpu", "gpu"])
def test_divergence_arms_share_the_too_strong_discriminator(preset):
    """The fix must beat the strong D, not remove it: every arm gives D the same steps, learning rate and size,
    the same budget and G's point-mass start; only minimax uses the saturating loss."""
    base = EXPERIMENTS["gan-divergence"].configure(preset)
    assert not EXPERIMENTS["gan-divergence"].variants  # one report with every arm, no --variant
    cfgs = {arm: edit(base) for arm, edit in gan2d.ARMS.items()}
    assert list(cfgs) == ["minimax", "non_saturating", "fixed"] and cfgs["minimax"] == base
    for arm, cfg in cfgs.items():
        assert (cfg.objective.n_critic, cfg.optim_d.learning_rate, cfg.model.d_depth, cfg.model.d_width,
                cfg.train.steps, cfg.model.g_out_init) == (5, 3e-3, 2, base.model.d_width, base.train.steps, 0.01), arm
        assert cfg.optim_d.learning_rate >= 3 * cfg.optim_g.learning_rate, f"{arm}: D must stay ahead of G"
        assert (cfg.objective.loss == "minimax") == (arm == "minimax"), arm
    assert cfgs["fixed"].objective.r1_gamma > 0 and cfgs["fixed"].objective.pack == 2


@pytest.mark.slow
def test_gan2d_demo_writes_every_figure(tmp_path):
    from genlab.experiments import DEMOS

    demo = DEMOS["gan2d"]
    files = demo.make(demo.configure("tiny"), tmp_path)
    names = {p.name for p in files}
    assert {"ring8_vanilla_samples.png", "ring8_fixed_samples.png", "ring8_coverage.png", "ring8_divergence_d.png",
            "ring8_divergence_arms.png", "diracgan_portrait.png", "ring8_vanilla.gif", "ring8_fixed.gif"} <= names
    for p in files:
        head = p.read_bytes()[:8]
        assert head.startswith(b"\x89PNG") or head.startswith(b"GIF8"), p.name
