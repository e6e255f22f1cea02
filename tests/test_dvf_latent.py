"""The latent text-to-image half of diffusion-vs-flow: the ε U-Net's PF-ODE at fractional steps, every sampling
route (stub pipelines: a linear "U-Net" with the shipped ones' shapes and code paths; every arm at every NFE:
slow), the budgets' ``matched``, the closing note and the figures. The shipped models themselves: the tiny run of
tests/test_diffusion_vs_flow.py (slow)."""

from __future__ import annotations

import dataclasses
import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from matplotlib.figure import Figure
from test_text_to_image import StubTextEncoder, StubTokenizer

from genlab.experiments import dvf_latent as L
from genlab.experiments.diffusion_vs_flow import DiffusionVsFlowConfig, latent_closing_note
from genlab.experiments.dvf_setup import ARM
from genlab.models.layers.blocks import TIME_SCALE
from genlab.models.vae import VAE, VAEConfig
from genlab.paths.affine import AffinePath
from genlab.pipelines.text_to_image import TextToImage
from genlab.samplers.diffusion import SamplerConfig, sample
from genlab.samplers.pf_ode import flow_times, pf_ode, solve_range, step_index_eps
from genlab.schedules.diffusion import make_schedule

TINY = DiffusionVsFlowConfig.tiny().latent


class LinearNet(nnx.Module):
    """A stand-in U-Net: ``w x + c · mean(cond)``, whatever t is (compiles in a blink)."""

    config = "linear"

    def __init__(self, w: float):
        self.w = nnx.Param(jnp.asarray(w, jnp.float32))

    def __call__(self, x, t, cond=None, cond_mask=None):
        c = 0.0 if cond is None else jnp.mean(cond, axis=(1, 2))[:, None, None, None]
        return self.w[...] * x + 0.1 * c


@pytest.fixture(scope="module")
def pipes() -> dict[str, TextToImage]:
    tok, text, vae = StubTokenizer(), StubTextEncoder(rngs=nnx.Rngs(2)), VAE(VAEConfig.tiny(), rngs=nnx.Rngs(1))
    return {"diffusion": TextToImage(tok, text, LinearNet(0.5), vae, make_schedule("linear")),
            "flow": TextToImage(tok, text, LinearNet(-0.5), vae, None, "velocity"),
            "rectified": TextToImage(tok, text, LinearNet(-0.4), vae, None, "velocity")}


def test_step_index_eps_feeds_the_step_whose_flow_time_it_is():
    schedule, path = make_schedule("linear"), AffinePath("vp")
    taus = flow_times(schedule, path)
    eps_fn = step_index_eps(lambda x, t, c, m: jnp.broadcast_to(t[:, None] * TIME_SCALE, x.shape), schedule, path)
    x = jnp.zeros((2, 3))
    for t in (0, 1, 500, 999):
        np.testing.assert_allclose(eps_fn(x, taus[t]), t, atol=2e-2)
    mid = float(eps_fn(x, 0.5 * (taus[500] + taus[501]))[0, 0])
    assert 500 < mid < 501, "between two steps' flow times: a fractional step between them"


def test_pf_ode_with_one_nfe_is_ddim_with_one_step():
    """Euler with 0 steps is the denoising jump from the noisiest step: DDIM's single step, x0 = (x - σ ε̂) / α."""
    schedule, path = make_schedule("linear"), AffinePath("vp")
    model = lambda x, t, c=None, m=None: 0.5 * x  # noqa: E731
    x_T = jax.random.normal(jax.random.key(0), (3, 7, 7, 4))
    ddim = sample(model, x_T, schedule, jax.random.key(1), config=SamplerConfig("ddim", steps=1)).x0
    t0, t1 = solve_range(schedule, path)
    sol = pf_ode(step_index_eps(model, schedule, path), x_T, path, t0=t0, t1=t1, method="euler", steps=0)
    assert sol.nfe == 1
    np.testing.assert_allclose(sol.x, ddim, rtol=2e-3, atol=2e-3)


def _without_seconds(d):
    if isinstance(d, dict):
        return {k: _without_seconds(v) for k, v in d.items() if k != "seconds"}
    return [_without_seconds(v) for v in d] if isinstance(d, list) else d


def _check(out: dict, cfg: L.LatentPartConfig) -> None:
    """Every arm of ``cfg`` at every budget (Dopri5: every tolerance): a cell exactly where the arm can run on the
    budget, finite numbers in it; the budgets, guidance and shared parts said."""
    assert set(out["table"]) | set(out["adaptive"]) == set(cfg.arms)
    assert set(out["adaptive"]) == {a for a in cfg.arms if ARM[a].adaptive}
    for name, cells in out["table"].items():
        assert len(cells) == len(cfg.nfe), name
        for n, cell in zip(cfg.nfe, cells):
            assert (cell is None) == (ARM[name].steps_for(n) is None), (name, n)
            if cell is not None:
                m = cell["model"]
                assert 0 <= m["prompt_accuracy"] <= 1 and np.isfinite(m["fd"]) and cell["nfe"] <= n, (name, cell)
    for name, cells in out["adaptive"].items():
        assert [c["rtol"] for c in cells] == list(cfg.tolerances)
        assert all(c["nfe"] > 0 and np.isfinite(c["model"]["fd"]) for c in cells), name
    assert np.isfinite(out["fd_floor"]) and np.isfinite(out["fd_vae_recon"])
    assert out["guidance"] == 3.0 and out["guidance_per_model"]["rectified"] == 1.0
    assert out["matched"] in (True, False, None) and out["matched_why"]
    assert all(all(v for k, v in parts.items() if k != "unet_architecture") for parts in out["shared"].values())
    json.dumps(out)
    note = latent_closing_note(out)
    assert any(line.startswith("latent prompt accuracy") for line in note)
    assert any(line.startswith("latent FD") for line in note)


def test_every_route_of_the_latent_half_is_finite_complete_and_deterministic(pipes):
    """One arm per sampling route: the pipeline's diffusion sampler, the PF-ODE (fixed steps, Dopri5), the flow's
    Dopri5, the pipeline's flow solver (the 2-rectified flow, unguided). The same seed twice: a summary over two
    runs whose every spread is exactly 0 (deterministic)."""
    cfg = dataclasses.replace(TINY, arms=("ddim", "pf_euler", "pf_dopri5", "flow_dopri5", "rf2_euler"))
    out = L.latent_text_to_image(cfg, [0, 0], pipes)
    _check(out, cfg)
    cells = [c for cells in (*out["table"].values(), *out["adaptive"].values()) for c in cells if c is not None]
    assert len(cells) == 8 and out["fd_floor_std"] == 0.0
    assert all(c["model"]["prompt_accuracy_std"] == 0.0 and c["model"]["fd_std"] == 0.0 for c in cells), \
        "same seed, same numbers"


@pytest.mark.slow
def test_every_arm_at_every_nfe_at_tiny_is_finite_complete_and_deterministic(pipes):
    assert set(TINY.arms) == set(ARM)
    out = L.latent_text_to_image(TINY, [0], pipes)
    _check(out, TINY)
    assert _without_seconds(L.latent_text_to_image(TINY, [0], pipes)) == _without_seconds(out)


def test_the_image_grid_shows_diffusion_flow_and_reflow_from_the_same_noise(pipes):
    w = {"diffusion": 3.0, "flow": 3.0, "rectified": 1.0}
    grid = L.latent_images_per_nfe(pipes, ["a bag", "a coat"], (2,), guidance=w)
    assert list(grid) == [ARM[a].label for a in ("ddim", "dpm_solver", "ddpm", "flow_euler", "rf2_euler")]
    assert all(set(per) == {2} and per[2].shape == (2, 28, 28, 1) for per in grid.values())
    only = L.latent_images_per_nfe({"flow": pipes["flow"]}, ["a bag", "a coat"], (2,), guidance=w)
    assert list(only) == [ARM["flow_euler"].label]


def _write(folder, name, info):
    folder.mkdir(exist_ok=True)
    (folder / f"{name}.npz").write_bytes(b"")
    (folder / f"{name}.json").write_text(json.dumps(info))


@pytest.mark.parametrize("batch, matched", [(128, True), (64, False), (None, None)])
def test_budgets_come_from_the_shipped_json_and_matched_says_what_it_knows(tmp_path, batch, matched):
    _write(tmp_path / "ldm", "unet", {"steps": 3000, **({} if batch is None else {"batch_size": batch})})
    for name in ("flow", "reflow"):
        _write(tmp_path / "flow", name, {"eval": {"steps": 3000, "batch_size": 128, "reflow_steps": 1000}})
    budget, got, why = L.training_budgets(tmp_path / "ldm", tmp_path / "flow")
    assert got is matched and budget["flow"]["examples"] == 384_000 and budget["rectified"]["reflow_steps"] == 1000
    assert ("not confirmed" in why) == (matched is None) and ("NOT matched" in why) == (matched is False)


def test_missing_shipped_weights_say_so_instead_of_failing(monkeypatch, pipes):
    def missing():
        raise FileNotFoundError("shipped weights missing: data/flow_ldm/flow.npz. Regenerate them with `x`.")

    monkeypatch.setattr(L, "training_budgets", missing)
    out = L.latent_text_to_image(TINY, [0], pipes)
    assert out["status"] == "not available" and "flow.npz" in out["why"]
    assert latent_closing_note(out)[0].startswith("latent text-to-image: not available (shipped weights missing")


def _summary(acc: dict, fd: dict) -> dict:
    def cell(n, a, f):
        return {"nfe_budget": n, "nfe": n, "model": {"prompt_accuracy": a, "fd": f}}

    table = {arm: [cell(n, a, f) for n, a, f in zip((1, 2, 4), acc[arm], fd[arm])] for arm in acc}
    return {"status": "measured", "table": table, "adaptive": {}, "nfe": [1, 2, 4], "seeds": [0],
            "guidance_per_model": {"diffusion": 3.0, "flow": 3.0, "rectified": 1.0}, "matched_why": "m",
            "fd_floor": 1.0, "fd_vae_recon": 20.0}


def test_closing_note_names_the_nfe_where_flow_beats_the_best_diffusion_sampler():
    s = _summary({"ddim": [0.2, 0.5, 0.9], "ddpm": [0.1, 0.6, 0.8], "flow_euler": [0.8, 0.7, 0.85],
                  "rf2_euler": [0.9, 0.9, 0.95]},
                 {"ddim": [150, 60, 30], "ddpm": [160, 70, 35], "flow_euler": [90, 50, 40], "rf2_euler": [40, 38, 37]})
    note = latent_closing_note(s)
    acc = next(line for line in note if line.startswith("latent prompt accuracy"))
    fd = next(line for line in note if line.startswith("latent FD"))
    assert "beats the best diffusion sampler at NFE 1, 2, the 2-rectified flow (Euler) at NFE 1, 2, 4" in acc
    assert "beats the best diffusion sampler at NFE 1, 2, the 2-rectified flow (Euler) at NFE 1, 2 (" in fd
    assert "NOT shared" not in note[0]
    assert "NOT shared with the diffusion model: flow vae" in latent_closing_note({**s, "shared": {
        "flow": {"vae": False, "text_encoder": True}}})[0]
    assert latent_closing_note({"status": "not yet available", "why": "x"}) == ["latent text-to-image: not yet "
                                                                                "available (x)"]


def test_latent_quality_against_nfe_is_a_figure():
    from genlab.figures.diffusion_vs_flow import quality_vs_nfe

    s = _summary({"ddim": [0.2, 0.5, 0.9], "flow_euler": [0.8, 0.7, 0.85]}, {"ddim": [150, 60, 30],
                                                                             "flow_euler": [90, 50, 40]})
    fig = quality_vs_nfe(s, metrics=("prompt_accuracy", "fd"), perfect=False)
    assert isinstance(fig, Figure) and len(fig.axes) == 2
