"""diffusion-vs-flow: the diffusion model's flow times and PF-ODE, the arms' budgets, the summaries, the figures,
the demo page, and the tiny run end to end (slow; the latent half alone: tests/test_dvf_latent.py)."""

from __future__ import annotations

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from matplotlib.figure import Figure

from genlab.experiments import diffusion_vs_flow as X
from genlab.experiments import dvf_setup as D
from genlab.figures import diffusion_vs_flow as F
from genlab.paths import oracle
from genlab.paths.affine import AffinePath
from genlab.samplers.pf_ode import flow_times, oracle_eps, pf_ode, solve_range
from genlab.schedules.diffusion import make_schedule

MU, SIGMA = np.array([[1.5, -0.5]]), 0.3
GAUSS = oracle.GaussianMixture.isotropic(MU, SIGMA)  # one Gaussian: the PF-ODE's flow map is affine


def _gaussian_flow_map(z, path: AffinePath, t0: float, t1: float):
    """The exact PF-ODE map of N(μ, σ² I) data from t0 to t1 (x stays a standardised point of p_t), then Tweedie."""
    a0, b0 = (float(c) for c in path.coeffs(t0)[:2])
    a1, b1 = (float(c) for c in path.coeffs(t1)[:2])
    s0, s1 = np.sqrt(a0**2 * SIGMA**2 + b0**2), np.sqrt(a1**2 * SIGMA**2 + b1**2)
    x1 = a1 * MU + s1 * (z - a0 * MU) / s0
    return MU + a1 * SIGMA**2 / s1**2 * (x1 - a1 * MU)


@pytest.mark.parametrize("kind", ["vp", "cosine"])
def test_flow_times_give_the_schedules_noise_levels(kind):
    schedule, path = make_schedule("linear"), AffinePath(kind)
    taus = flow_times(schedule, path)
    assert np.all(np.diff(taus) < 0), "step 0 is the least noisy: the latest flow time"
    a = np.asarray(path.coeffs(jnp.asarray(taus, jnp.float32)).a, np.float64)
    np.testing.assert_allclose(a**2, schedule.alphas_cumprod64, rtol=2e-4, atol=1e-7)


def test_flow_times_refuse_a_path_that_is_not_variance_preserving():
    with pytest.raises(ValueError, match="variance-preserving"):
        flow_times(make_schedule("linear"), AffinePath("ot"))


@pytest.mark.parametrize("method, steps, tol", [("rk4", 200, 2e-3), ("dopri5", 0, 2e-3), ("euler", 400, 2e-2)])
def test_pf_ode_of_the_exact_eps_is_the_exact_flow_map(method, steps, tol):
    path = AffinePath("vp")
    t0, t1 = solve_range(make_schedule("linear"), path)
    z = jax.random.normal(jax.random.key(0), (64, 2))
    sol = jax.jit(lambda z: pf_ode(oracle_eps(GAUSS, path), z, path, t0=t0, t1=t1, method=method, steps=steps))(z)
    np.testing.assert_allclose(np.asarray(sol.x), _gaussian_flow_map(np.asarray(z), path, t0, t1), atol=tol)
    if method != "dopri5":
        assert sol.nfe == steps * {"rk4": 4, "euler": 1}[method] + 1, "the final denoising jump costs one NFE"


def test_ddim_on_the_exact_eps_follows_the_same_flow_map():
    """DDIM is a first-order solver of the same ODE: with many steps it lands where the PF-ODE does."""
    spec = D.SamplerSpec("diffusion", "ddim", 500, path="vp")
    z = jax.random.normal(jax.random.key(1), (64, 2))
    x, nfe, _ = D.sample_oracle(z, jax.random.key(2), mix=GAUSS, spec=spec)
    t0, t1 = solve_range(make_schedule("linear"), AffinePath("vp"))
    assert int(nfe) == 500
    np.testing.assert_allclose(np.asarray(x), _gaussian_flow_map(np.asarray(z), AffinePath("vp"), t0, t1), atol=1e-2)


def test_budgets_count_every_network_evaluation():
    cfg = X.DiffusionVsFlowConfig.tiny()
    want = {("ddim", 4): 4, ("pf_euler", 1): 0, ("pf_euler", 4): 3, ("pf_heun", 2): None, ("pf_heun", 4): 1,
            ("flow_heun", 1): None, ("flow_heun", 5): 2, ("rf2_euler", 8): 8}
    for (arm, budget), steps in want.items():
        assert X.ARM[arm].steps_for(budget) == steps, (arm, budget)
    z = jnp.zeros((4, 2))
    for arm, budget in (("pf_heun", 4), ("pf_euler", 1), ("flow_heun", 5)):
        spec = X.ARM[arm].spec(cfg, X.ARM[arm].steps_for(budget))
        _, nfe, _ = D.sample_oracle(z, jax.random.key(0), mix=GAUSS, spec=spec)
        assert int(nfe) <= budget and int(nfe) >= budget - 1, (arm, budget, int(nfe))


def _fake_run(hq: list[float], modes: list[int], nfe_grid=(1, 2)) -> dict:
    """A run with every arm at ``nfe_grid``, quality ``hq[i]`` / ``modes[i]`` at the i-th budget."""
    def q(i):
        i %= len(hq)
        return {"modes_covered": modes[i], "num_modes": 8, "high_quality": hq[i], "energy_distance": 0.1 / (i + 1)}

    table = {a.name: [{"nfe_budget": n, "steps": n, "nfe": n, "model": q(i), "perfect_model": q(-1),
                       "perfect_model_nfe": n} for i, n in enumerate(nfe_grid)] for a in X.ARMS if not a.adaptive}
    adaptive = {a.name: [{"rtol": 0.1, "steps": 0, "nfe": 20, "model": q(-1)}] for a in X.ARMS if a.adaptive}
    errs = {"t": [0.5], "tau_diffusion": [0.7], "diffusion": {"eps_mse": [1.0], "data_mse": [0.1]},
            "flow": {"velocity_mse": [2.0], "data_mse": [0.2]}, "rectified": {"velocity_mse": [3.0], "data_mse": [0.3]}}
    return {"table": table, "adaptive": adaptive, "oracle_error": errs, "energy_floor": 0.0,
            "train": {"diffusion_loss": 1.0}, "seconds": 1.0}


def test_summary_gives_mean_spread_and_the_first_good_budget():
    import dataclasses

    cfg = dataclasses.replace(X.DiffusionVsFlowConfig.tiny(), eval=X.DVFEvalConfig(nfe=(1, 2), tolerances=(0.1,)))
    runs = [_fake_run([0.5, 0.95], [8, 8]), _fake_run([0.7, 0.85], [7, 8])]
    s = X.summarize(cfg, "ring8", runs)
    p = s["table"]["ddim"][1]
    assert p["model"]["high_quality"] == pytest.approx(0.9) and p["model"]["high_quality_std"] == pytest.approx(0.05)
    assert s["table"]["ddim"][0]["model"]["modes_covered"] == pytest.approx(7.5)
    assert s["first_good_nfe"]["ddim"]["model"] == 2  # mean HQ 0.9 >= 0.9 with all modes, at NFE 2 only
    assert s["first_good_nfe"]["pf_dopri5"]["model"] == 20
    assert s["per_seed_first_good_nfe"] == [{a: 2 for a in s["table"]}, {a: None for a in s["table"]}]
    note = X.closing_note({"ring8": s}, cfg.eval)
    assert any("DDIM from NFE 2" in line for line in note), note
    json.dumps(s)


def test_figures_are_figures(tmp_path):
    import dataclasses

    cfg = dataclasses.replace(X.DiffusionVsFlowConfig.tiny(), eval=X.DVFEvalConfig(nfe=(1, 2), tolerances=(0.1,)))
    s = X.summarize(cfg, "ring8", [_fake_run([0.5, 0.95], [8, 8])])
    paths = {"a": np.random.default_rng(0).normal(size=(5, 3, 2)), "b": np.zeros((2, 3, 2))}
    images = {"DDIM": {1: np.zeros((2, 28, 28, 1)), 4: np.ones((2, 28, 28, 1))}, "flow": {4: np.zeros((2, 28, 28, 1))}}
    for fig in (F.quality_vs_nfe(s, {a.name: a.label for a in X.ARMS}), F.trajectories(paths, np.ones((2, 2))),
                F.oracle_error_per_t(s), F.image_grid_per_nfe(images)):
        assert isinstance(fig, Figure)
    gif = F.transport_animation(paths, tmp_path / "t.gif", frames=3)
    assert gif.stat().st_size > 0


def test_demo_page_lists_parts_in_lecture_order_with_captions(tmp_path):
    from genlab.demos.page import SECTIONS, write_page

    for part, name in (("diffusion_vs_flow", "dvf_closing_note.txt"), ("gan2d", "ring8_vanilla_samples.png"),
                       ("gan2d", "unknown_extra.png")):
        (tmp_path / part).mkdir(exist_ok=True)
        (tmp_path / part / name).write_text("note <1>" if name.endswith(".txt") else "png")
    page = write_page(tmp_path).read_text()
    titles = [page.index(s.title.split(" — ")[0]) for s in SECTIONS]
    assert titles == sorted(titles), "sections in the lecture's order"
    assert page.index("ring8_vanilla_samples.png") < page.index("dvf_closing_note.txt")
    assert "Mode Collapse" in page and "(mode collapse)" in page and "note &lt;1&gt;" in page
    assert "genlab demo --only unet_vae" in page, "a part not run yet says how to run it"
    assert "Shipped weights stand in" in page


@pytest.mark.slow
def test_tiny_run_end_to_end_has_every_arm_and_the_closing_note(capsys):
    """`genlab eval diffusion-vs-flow --json` at tiny, two seeds: one JSON object with every arm of both halves."""
    from genlab.cli import main

    cfg = X.DiffusionVsFlowConfig.tiny()
    assert main(["eval", "diffusion-vs-flow", "--preset", "tiny", "--seeds", "2", "--json"]) == 0
    printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert printed["experiment"] == "diffusion-vs-flow" and printed["seeds"] == [0, 1]
    out = printed["metrics"]
    s = out["ring8"]
    assert set(s["table"]) | set(s["adaptive"]) == {a.name for a in X.ARMS}
    for arm, points in s["table"].items():
        assert len(points) == len(cfg.eval.nfe)
        for p in points:
            if p is not None:
                assert p["nfe"] <= p["nfe_budget"] and "high_quality_std" in p["model"], (arm, p)
                assert ("perfect_model" in p) == (arm != "rf2_euler")
    assert s["oracle_error"]["diffusion"]["eps_mse"] and s["oracle_error"]["flow"]["velocity_mse"]
    latent = out["latent"]  # the shipped latent-diffusion and flow-latent models (tests/test_dvf_latent.py: stubs)
    assert latent["status"] == "measured" and all(all(p.values()) for p in latent["shared"].values())
    assert set(latent["table"]) | set(latent["adaptive"]) == set(cfg.latent.arms)
    assert any(line.startswith("latent FD") for line in out["closing_note"])
    assert out["matched"]["params_each"] > 0 and out["closing_note"]
