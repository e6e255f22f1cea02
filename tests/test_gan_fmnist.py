"""gan-fmnist: recipes per variant, presets, batches, class evaluation, figures, and the tiny experiment end to end."""

import math

import matplotlib
import numpy as np
import pytest
from matplotlib.figure import Figure

from genlab.diagnostics.coverage import class_eval
from genlab.experiments import EXPERIMENTS
from genlab.experiments import gan_fmnist as gf
from genlab.figures.gan_images import class_histograms_over_training, grids_over_training, tile
from genlab.train.history import History

matplotlib.use("Agg")


@pytest.mark.parametrize("preset", ["tiny", "cpu", "gpu"])
def test_variants_set_their_recipes(preset):
    exp = EXPERIMENTS["gan-fmnist"]
    assert exp.default_variant == "fixed" and exp.configure(preset) == getattr(gf.GanFmnistConfig, preset)()
    vanilla, fixed, cond = (exp.configure(preset, v) for v in ("vanilla", "fixed", "conditional"))
    assert vanilla.objective.loss == "minimax" and vanilla.objective.r1_gamma == 0 and not vanilla.model.minibatch_std
    assert vanilla.optim_d.learning_rate > vanilla.optim_g.learning_rate  # the strong discriminator (every variant)
    assert fixed.objective.loss == "non_saturating" and fixed.objective.r1_gamma > 0
    assert fixed.model.minibatch_std and fixed.model.num_classes == 0
    assert cond.model.num_classes == 10 and cond.objective == fixed.objective
    # Everything but the recipe is shared: a fair comparison.
    assert (vanilla.train, vanilla.optim_g, vanilla.optim_d, vanilla.eval) == (fixed.train, fixed.optim_g,
                                                                               fixed.optim_d, fixed.eval)
    with pytest.raises(ValueError, match="choose one of"):
        exp.configure(preset, "nope")


def test_batches_are_deterministic_and_carry_labels_only_when_asked():
    images = np.random.default_rng(0).uniform(-1, 1, (40, 28, 28, 1)).astype(np.float32)
    labels = np.arange(40, dtype=np.int32) % 10
    plain = gf.gan_batches(images, None, 8, seed=3)
    cond = gf.gan_batches(images, labels, 8, seed=3)
    assert set(plain(0)) == {"x"} and plain(0)["x"].shape == (8, 28, 28, 1)
    assert set(cond(0)) == {"x", "label"}
    np.testing.assert_array_equal(plain(7)["x"], gf.gan_batches(images, None, 8, seed=3)(7)["x"])


def test_class_eval_sees_all_classes_in_real_images():
    from genlab.data.images import load_images

    real = load_images("fashion_mnist", "test", limit=500)
    e = class_eval(real.images)
    assert e["classes_covered"] == 10 and e["n_classes"] == 10 and len(e["covered"]) == 10
    assert e["class_entropy"] > 0.95 * math.log(10)
    one_image = np.repeat(real.images[:1], 100, axis=0)  # a fully collapsed "generator"
    e1 = class_eval(one_image)
    assert e1["classes_covered"] == 1 and e1["class_entropy"] == pytest.approx(0.0, abs=1e-9)
    assert e1["kl_to_uniform"] == pytest.approx(math.log(10))


def _fake_history() -> History:
    h = History()
    for s in range(1, 41):
        h.append(s, {"d_real": 0.7, "d_fake": 0.3, "grad_norm_d": 1.0, "grad_norm_g": 2.0})
    for s, hist in ((20, [1.0] + [0.0] * 9), (40, [0.1] * 10)):
        h.evals.append({"step": s, "histogram": hist, "classes_covered": int(np.sum(np.array(hist) > 0.01)),
                        "n_classes": 10, "class_entropy": float(-sum(p * math.log(p) for p in hist if p > 0))})
    return h


def test_figures_are_figures():
    rng = np.random.default_rng(0)
    snaps = {s: rng.uniform(-1, 1, (12, 28, 28, 1)).astype(np.float32) for s in (0, 20, 40)}
    assert isinstance(grids_over_training(snaps, history=_fake_history(), cols=4), Figure)
    assert isinstance(class_histograms_over_training({"a": _fake_history(), "b": _fake_history()}), Figure)
    grid = tile(np.full((5, 28, 28, 1), 1.0, np.float32), cols=4)
    assert grid.shape == (56, 112) and grid[:28, :28].min() == 1.0 and grid[28:, 28:].max() == 0.0  # padding black
    with pytest.raises(ValueError, match="snapshots"):
        grids_over_training({})


@pytest.mark.slow
def test_tiny_experiment_returns_the_metric_keys():
    out = gf.run(gf.GanFmnistConfig.tiny(), seeds=[0])
    for key in ("classes_covered_mean", "classes_covered_std", "class_entropy_mean", "kl_to_uniform_mean",
                "frechet_mean", "frechet_real_floor_mean", "seconds_per_seed", "per_seed", "findings", "recipe"):
        assert key in out, key
    assert 0 <= out["classes_covered_mean"] <= 10
    assert 0 <= out["class_entropy_mean"] <= math.log(10) + 1e-9
    assert out["frechet_real_floor_mean"] >= 0 and np.isfinite(out["frechet_mean"])
    assert out["per_seed"][0]["seed"] == 0 and isinstance(out["per_seed"][0]["findings"], list)
