"""diagnose() on synthetic histories: each failure is found (with its start step), a healthy run is not flagged."""

import math

import numpy as np
import pytest

from genlab.diagnostics.gan import Finding, diagnose, diagnose_callback
from genlab.diagnostics.records import load_history, save_history
from genlab.train.engine import NonFiniteError
from genlab.train.history import History

STEPS = 2000


def make_history(d_real=None, d_fake=None, g_norm=None, evals=(), seed=0):
    rng = np.random.default_rng(seed)
    n = STEPS
    d_real = np.full(n, 0.55) if d_real is None else d_real
    d_fake = np.full(n, 0.45) if d_fake is None else d_fake
    g_norm = np.full(n, 0.5) if g_norm is None else g_norm
    noise = lambda: 0.02 * rng.standard_normal(n)
    metrics = {"d_real": d_real + noise(), "d_fake": d_fake + noise(), "grad_norm_g": g_norm * (1 + noise()),
               "grad_norm_d": np.full(n, 1.0), "d_loss": np.full(n, 1.3), "g_loss": np.full(n, 0.7)}
    return History(steps=list(range(1, n + 1)), metrics={k: [float(x) for x in v] for k, v in metrics.items()},
                   evals=list(evals))


def ring_eval(step, covered, hq=0.9):
    mask = [i in covered for i in range(8)]
    return {"step": step, "modes_covered": len(covered), "n_modes": 8, "high_quality_fraction": hq,
            "modes_visited": max(len(covered), 1), "covered": mask}


def healthy_evals():
    grow = [ring_eval(100, {0, 3}, 0.05), ring_eval(200, {0, 1, 3, 5}, 0.3), ring_eval(300, set(range(7)), 0.6)]
    full = [ring_eval(s, set(range(8)), 0.9) for s in range(400, STEPS + 1, 100)]
    full[5] = ring_eval(900, set(range(8)) - {2}, 0.9)  # one mode flickers out and back: not oscillation
    return grow + full


def kinds(findings):
    return [f.kind for f in findings]


def test_healthy_run_has_no_findings():
    assert diagnose(make_history(evals=healthy_evals())) == []


def test_mode_collapse_is_found_with_its_start_step():
    evals = [ring_eval(s, set(range(8))) for s in range(100, 800, 100)]
    evals += [ring_eval(s, {0, 1}, 0.95) for s in range(800, STEPS + 1, 100)]
    (f,) = diagnose(make_history(evals=evals))
    assert f.kind == "mode_collapse" and f.step == 800
    assert f.evidence["modes_covered"] == 2 and f.evidence["n_modes"] == 8 and f.evidence["peak_modes_covered"] == 8
    assert f.explanation and f.remedy and "2 of 8 modes" in str(f)
    assert "fool the discriminator" in f.explanation


def test_a_generator_that_never_reached_the_data_is_not_told_it_fools_d():
    evals = [dict(ring_eval(s, set(), 0.0), modes_visited=1) for s in range(100, STEPS + 1, 100)]
    (f,) = diagnose(make_history(evals=evals))
    assert f.kind == "mode_collapse" and "0 of 8 modes" in f.explanation
    assert "never" in f.explanation or "not learned" in f.explanation
    assert "fool" not in f.explanation and f.remedy.startswith("first make the generator learn")


def test_blurry_generator_on_one_mode_is_collapse_too():
    evals = [dict(ring_eval(s, set(), 0.0), modes_visited=1) for s in range(100, STEPS + 1, 100)]
    assert kinds(diagnose(make_history(evals=evals))) == ["mode_collapse"]
    spread = [dict(ring_eval(s, set(), 0.0), modes_visited=8) for s in range(100, STEPS + 1, 100)]
    assert diagnose(make_history(evals=spread)) == []  # bad samples everywhere: not a collapse


def test_discriminator_overpowering_is_found():
    t = np.arange(STEPS)
    after = t >= 600
    d_fake = np.where(after, 0.001, 0.45)
    d_real = np.where(after, 0.999, 0.55)
    g_norm = np.where(after, 1e-4, 0.5)
    h = make_history(d_real, d_fake, g_norm, evals=healthy_evals())
    (f,) = [f for f in diagnose(h) if f.kind == "discriminator_overpowering"]
    assert 560 <= f.step <= 640
    assert f.evidence["grad_norm_g"] < 1e-3 and f.evidence["d_fake"] < 0.05
    # Same D outputs but a generator gradient that stays alive (non-saturating loss): no overpowering.
    h2 = make_history(d_real, d_fake, np.full(STEPS, 0.5), evals=healthy_evals())
    assert "discriminator_overpowering" not in kinds(diagnose(h2))


def test_oscillation_is_found():
    evals = [ring_eval(s, {(s // 100) % 8, (s // 100 + 1) % 8, (s // 100 + 2) % 8}) for s in range(100, STEPS + 1, 100)]
    found = diagnose(make_history(evals=evals))
    assert "oscillation" in kinds(found) and "mode_collapse" in kinds(found)
    osc = next(f for f in found if f.kind == "oscillation")
    assert osc.step == 200 and osc.evidence["hops"] == 19


def test_non_finite_from_history_and_from_the_error():
    h = make_history(evals=healthy_evals()[:5])
    h.metrics["d_loss"][36] = float("nan")
    (f,) = diagnose(h)
    assert f.kind == "non_finite" and f.step == 37 and f.evidence["metric"] == "d_loss"
    err = NonFiniteError(37, "d_loss", float("nan"), h, None)
    assert kinds(diagnose(err)) == ["non_finite"]


def test_image_histories():
    def img(step, classes, entropy):
        return {"step": step, "classes_covered": classes, "n_classes": 10, "class_entropy": entropy}

    good = [img(s, 10, 2.25) for s in range(100, STEPS + 1, 100)]
    assert diagnose(make_history(evals=good)) == []
    bad = good[:5] + [img(s, 10, 0.9) for s in range(600, STEPS + 1, 100)]  # all classes seen, but skewed
    (f,) = diagnose(make_history(evals=bad))
    assert f.kind == "mode_collapse" and f.step == 600 and math.isclose(f.evidence["class_entropy"], 0.9)


def test_callback_reports_each_kind_once():
    lines = []
    cb = diagnose_callback(report=lines.append)
    evals = [ring_eval(s, {0}) for s in range(100, STEPS + 1, 100)]
    h = make_history()
    for e in evals:
        h.evals.append(e)
        assert cb(e["step"], (), h) is None
    assert len(lines) == 1 and "mode_collapse" in lines[0] and "step 300" in lines[0]


def test_history_json_round_trip(tmp_path):
    h = make_history(evals=healthy_evals())
    h.metrics["d_loss"][-1] = float("nan")
    path = save_history(h, tmp_path / "run.json", max_points=300, info={"what": "test"})
    assert path.stat().st_size < 100_000
    back = load_history(path)
    assert len(back.steps) <= 301 and back.steps[-1] == STEPS and back.evals == h.evals
    assert math.isnan(back.metrics["d_loss"][-1])
    assert kinds(diagnose(back)) == ["non_finite"]
    with pytest.raises(FileNotFoundError, match="save_history"):
        load_history(tmp_path / "missing.json")


def test_finding_is_frozen():
    f = Finding("oscillation", 1, {}, "x", "y")
    with pytest.raises(Exception):
        f.step = 2


def test_oscillation_reads_where_the_samples_sit():
    # Blurry samples (nothing covered) whose mass hops from mode to mode: oscillation.
    def blurry(step, at):
        return dict(ring_eval(step, set(), 0.0), modes_visited=1, visited=[i == at for i in range(8)])

    hopping = [blurry(s, (s // 100) % 8) for s in range(100, STEPS + 1, 100)]
    assert "oscillation" in kinds(diagnose(make_history(evals=hopping)))
    # Early learning: the covered set changes, but the samples sit near every mode throughout: no oscillation.
    learning = [dict(ring_eval(s, {(s // 100) % 8, (s // 100 + 3) % 8}, 0.05), modes_visited=8, visited=[True] * 8)
                for s in range(100, 600, 100)]
    learning += [dict(ring_eval(s, set(range(8))), modes_visited=8, visited=[True] * 8)
                 for s in range(600, STEPS + 1, 100)]
    assert diagnose(make_history(evals=learning)) == []


def test_samples_smeared_between_modes_are_reported():
    """3/3 modes covered with 26 % high quality: every mode counts, yet most samples sit in the gaps."""
    def tri(step, hq):
        return {"step": step, "modes_covered": 3, "n_modes": 3, "high_quality_fraction": hq, "modes_visited": 3,
                "covered": [True] * 3}

    evals = [tri(s, 0.9) for s in range(100, 1000, 100)] + [tri(s, 0.26) for s in range(1000, STEPS + 1, 100)]
    (f,) = diagnose(make_history(evals=evals))
    assert f.kind == "between_modes" and f.step == 1000
    assert f.evidence["high_quality_fraction"] == 0.26 and f.evidence["modes_covered"] == 3
    assert "3 of 3 modes" in f.explanation and "26%" in f.explanation and "between the modes" in f.explanation
    assert diagnose(make_history(evals=[tri(s, 0.9) for s in range(100, STEPS + 1, 100)])) == []
