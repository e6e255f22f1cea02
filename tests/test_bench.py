"""``genlab bench``: genlab's side runs at tiny sizes and reports every key; a missing peer is reported as skipped
with the install command; the timing helper interleaves and leaves warm-up calls out."""

from __future__ import annotations

import json

import numpy as np
import pytest
from matplotlib.figure import Figure

from genlab.bench import peers
from genlab.bench.config import PARTS, BenchConfig
from genlab.bench.run import TARGETS, check_parts, markdown
from genlab.bench.timing import interleaved
from genlab.cli import main
from genlab.figures.bench import growth_figure

ISSUE_KEYS = ("train_step_speedup_vs_torch", "sampling_speedup_vs_diffusers", "flow2d_speedup_vs_torchcfm",
              "unet_fraction_of_peak")


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """The CLI on the tiny preset with every peer missing (as on a machine without the bench extra)."""
    out = tmp_path_factory.mktemp("bench")
    mp = pytest.MonkeyPatch()
    mp.setattr(peers, "find_spec", lambda name: None)
    try:
        import io
        from contextlib import redirect_stdout

        buf = io.StringIO()
        with redirect_stdout(buf):
            assert main(["bench", "--preset", "tiny", "--out", str(out), "--json"]) == 0
    finally:
        mp.undo()
    return json.loads(buf.getvalue()), out


def test_every_part_runs_and_reports_the_issue_keys(tiny_run):
    result, _ = tiny_run
    assert result["parts"] == list(PARTS)
    m = result["metrics"]
    for key in ISSUE_KEYS:
        assert key in m, f"metrics lack {key}"
    for key in ("train_step_speedup_vs_torch", "sampling_speedup_vs_diffusers", "flow2d_speedup_vs_torchcfm"):
        assert m[key] is None  # the peers were missing
    assert all(t > 0 for t in m["train_step_genlab_median_s"].values())
    assert set(m["train_step_genlab_median_s"]) == {"latent_text_to_image", "pixel_denoiser_28"}
    assert m["sampling_genlab_median_s"] > 0 and m["flow2d_genlab_steps_per_s"] > 0
    assert m["flow2d_dopri5_genlab_nfe"] > 6  # at least one Dopri5 step: 6 per step + 1
    assert 0 < m["unet_fraction_of_peak"] == min(m["unet_fraction_of_peak_by_model"].values())
    assert all(f > 0 for f in m["train_step_flops"].values())
    assert result["targets"]["unet_fraction_of_peak"]["at_least"] == TARGETS["unet_fraction_of_peak"][0]
    assert result["machine"]["cpu_count"] >= 1 and len(result["machine"]["load_average"]) == 3
    # the arithmetic behind each ratio is counted even without peers; ceilings need a peer's time
    assert result["sampling"]["flops_per_run"] > 0 and result["flow2d"]["train"]["flops_per_step"] > 0
    assert m["speedup_ceilings_at_peak"] == {}
    assert result["targets"]["sampling_speedup_vs_diffusers"]["reachable_here"] is None
    assert result["targets"]["unet_fraction_of_peak"]["ceiling_here"] == 1.0


def test_missing_peers_are_skipped_with_the_install_command(tiny_run):
    result, _ = tiny_run
    assert set(result["skipped"]) == set(peers.NEEDS)
    for info in result["skipped"].values():
        assert info["skipped"] and info["install"] == peers.INSTALL
        assert "torch" in info["reason"] and peers.INSTALL in info["reason"]
    assert "skipped" in markdown(result)


def test_files_are_written_and_the_growth_covers_every_size_and_batch(tiny_run):
    result, out = tiny_run
    assert json.loads((out / "bench.json").read_text())["metrics"] == result["metrics"]
    assert (out / "bench.md").read_text().startswith("| measurement |")
    assert (out / "growth.png").stat().st_size > 1000
    g, tiny = result["growth"], BenchConfig.tiny().growth
    assert np.asarray(g["seconds"]).shape == (len(tiny.sizes), len(tiny.batches))
    assert isinstance(growth_figure(g), Figure)


def test_the_speedup_ceiling_is_the_peers_time_over_the_flops_at_peak():
    from genlab.bench.train_step import ceiling

    c = ceiling(50.0, 2.0, {"peak_flops_per_s": 100.0}, "torch")  # 50 FLOPs at 100 FLOP/s: 0.5 s at best
    assert c == {"torch_fraction_of_peak": 0.25, "ideal_s_at_peak": 0.5, "speedup_ceiling": 4.0}


def test_a_growth_table_of_the_wrong_shape_is_named():
    with pytest.raises(ValueError, match="expected"):
        growth_figure({"sizes": [28, 32], "batches": [2, 4], "seconds": [[1.0, 2.0]]})


def test_an_unknown_part_is_named_with_the_choices():
    with pytest.raises(ValueError, match="unknown bench part.*sampling"):
        check_parts(["train_step", "samplin"])


def test_interleaved_timing_alternates_and_leaves_the_warmup_out():
    order = []
    fns = {"a": lambda i: order.append(("a", i)), "b": lambda i: order.append(("b", i))}
    times = interleaved(fns, warmup=2, repeats=3)
    assert [n for n, _ in order] == ["a", "b", "a", "b", "a", "b", "b", "a", "a", "b"]
    assert [i for n, i in order if n == "a"] == [0, 1, 2, 3, 4]
    assert all(len(t.samples) == 3 and t.min <= t.median for t in times.values())


def test_peers_switched_off_are_not_reported_as_missing():
    assert peers.skip_reason("sampling", enabled=False) == "peers switched off (--no-peers)"
