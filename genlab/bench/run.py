"""``genlab bench``: the five measurements in one run, one JSON-ready dict, one markdown table.

    result = run_bench(BenchConfig.cpu())          # every part; peers where installed
    print(markdown(result))
    growth_figure(result["growth"])                # genlab.figures.bench

``result["metrics"]`` holds the issue's keys (``train_step_speedup_vs_torch``, ``sampling_speedup_vs_diffusers``,
``flow2d_speedup_vs_torchcfm``, ``unet_fraction_of_peak``; None where a peer was skipped) and the raw times behind
each ratio. Where there are two U-Nets (the latent text-to-image one and the pixel denoiser) a headline number is
the worse of the two: a target is met only when it holds for both. A speedup is the peer's median time over
genlab's (> 1: genlab is faster).
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from genlab.bench import peers
from genlab.bench.config import PARTS, BenchConfig
from genlab.bench.flow import bench_flow
from genlab.bench.sampling import bench_sampling
from genlab.bench.timing import machine, matmul_peak, use_all_cores
from genlab.bench.train_step import bench_growth, bench_limit, bench_train_step, ceiling

TARGETS = {  # metric -> (at least, what it means); the targets for a quiet 2-core machine
    "train_step_speedup_vs_torch": (2.5, "U-Net train step >= 2.5x PyTorch"),
    "sampling_speedup_vs_diffusers": (5.0, "50-step guided DDIM >= 5x the diffusers loop"),
    "flow2d_speedup_vs_torchcfm": (3.0, "2D flow-matching training >= 3x torchcfm"),
    "unet_fraction_of_peak": (0.5, "U-Net train step >= 50 % of the matmul peak"),
}


def check_parts(parts: Sequence[str]) -> list[str]:
    bad = [p for p in parts if p not in PARTS]
    if bad:
        raise ValueError(f"unknown bench part(s) {', '.join(bad)}: choose from {', '.join(PARTS)}")
    return list(parts)


def _worst(values: dict) -> float | None:
    found = [v for v in values.values() if v is not None]
    return min(found) if len(found) == len(values) and found else None


def run_bench(config: BenchConfig, *, parts: Sequence[str] = PARTS, use_peers: bool = True) -> dict:
    """Run ``parts`` of the benchmark; returns ``{"metrics", "targets", "machine", "skipped", part: details}``."""
    parts = check_parts(parts)
    start = time.perf_counter()
    reasons = {m: peers.skip_reason(m, use_peers) for m in peers.NEEDS}
    if any(r is None for r in reasons.values()):
        use_all_cores()
    result: dict = {"machine_before": machine(), "parts": parts}
    metrics: dict = {}
    skipped = {m: peers.skipped(r) for m, r in reasons.items() if r is not None and m in parts}

    peaks: list[dict] = []  # the matmul peak, measured once when a part needs it

    def peak() -> dict:
        if not peaks:
            peaks.append(matmul_peak(config.matmul_n))
        return peaks[0]

    ceilings: dict = {}
    if "train_step" in parts or "limit" in parts:
        train_reason = reasons["train_step"] if "train_step" in parts else "not asked for"
        train, steps = bench_train_step(config, train_reason)
        if "train_step" in parts:
            result["train_step"] = train
            by_case = {k: v.get("speedup") for k, v in train.items()}
            metrics |= {"train_step_speedup_vs_torch": _worst(by_case), "train_step_speedup_vs_torch_by_model": by_case,
                        "train_step_genlab_median_s": {k: v["genlab"]["median_s"] for k, v in train.items()},
                        "train_step_torch_median_s": {k: v["torch"]["median_s"] if "torch" in v else None
                                                      for k, v in train.items()}}
        if "limit" in parts:
            limit = bench_limit(steps, train, peak())
            result["limit"] = {"matmul": peak(), "models": limit}
            by_case = {k: v["fraction_of_peak"] for k, v in limit.items()}
            if all("speedup_ceiling" in v for v in limit.values()):
                ceilings["train_step_speedup_vs_torch"] = min(v["speedup_ceiling"] for v in limit.values())
            metrics |= {"unet_fraction_of_peak": min(by_case.values()), "unet_fraction_of_peak_by_model": by_case,
                        "matmul_peak_flops_per_s": peak()["peak_flops_per_s"],
                        "train_step_flops": {k: v["flops_per_step"] for k, v in limit.items()}}
    if "sampling" in parts:
        s = result["sampling"] = bench_sampling(config.sampling, reasons["sampling"])
        if "diffusers" in s:
            s |= ceiling(s["flops_per_run"], s["diffusers"]["median_s"], peak(), "diffusers")
            ceilings["sampling_speedup_vs_diffusers"] = s["speedup_ceiling"]
        metrics |= {"sampling_speedup_vs_diffusers": s.get("speedup"),
                    "sampling_genlab_median_s": s["genlab"]["median_s"],
                    "sampling_diffusers_median_s": s["diffusers"]["median_s"] if "diffusers" in s else None,
                    "sampling_max_abs_diff": s.get("max_abs_diff")}
    if "flow2d" in parts:
        f = result["flow2d"] = bench_flow(config, reasons["flow2d"])
        tr, sa = f["train"], f["sampling"]
        if "torchcfm_steps_per_s" in tr:
            tr |= ceiling(tr["flops_per_step"], 1.0 / tr["torchcfm_steps_per_s"], peak(), "torchcfm")
            ceilings["flow2d_speedup_vs_torchcfm"] = tr["speedup_ceiling"]
        metrics |= {"flow2d_speedup_vs_torchcfm": tr.get("speedup"),
                    "flow2d_genlab_steps_per_s": tr["genlab_steps_per_s"],
                    "flow2d_torchcfm_steps_per_s": tr.get("torchcfm_steps_per_s"),
                    "flow2d_dopri5_speedup_vs_torchdiffeq": sa.get("speedup"),
                    "flow2d_dopri5_genlab_median_s": sa["genlab"]["median_s"],
                    "flow2d_dopri5_torchdiffeq_median_s": (sa["torchdiffeq"]["median_s"] if "torchdiffeq" in sa
                                                           else None),
                    "flow2d_dopri5_genlab_nfe": sa["genlab_nfe"],
                    "flow2d_dopri5_torchdiffeq_nfe": sa.get("torchdiffeq_nfe"),
                    "flow2d_dopri5_max_abs_diff": sa.get("max_abs_diff")}
    if "growth" in parts:
        result["growth"] = bench_growth(config)

    if peaks:
        result["matmul_peak"] = peaks[0]
    metrics["speedup_ceilings_at_peak"] = ceilings
    result["metrics"] = metrics
    best = {**ceilings, "unet_fraction_of_peak": 1.0}  # the best any implementation of the arithmetic could do here
    result["targets"] = {k: {"at_least": lo, "what": what, "value": metrics[k],
                             "met": None if metrics[k] is None else metrics[k] >= lo,
                             "ceiling_here": best.get(k), "reachable_here": None if k not in best else best[k] >= lo}
                         for k, (lo, what) in TARGETS.items() if k in metrics}
    result["skipped"] = skipped
    result["machine"] = machine()  # the load average after the run, beside the one before
    result["bench_seconds"] = round(time.perf_counter() - start, 1)
    return result


def _fmt(x, unit: str = "") -> str:
    if x is None:
        return "skipped"
    if isinstance(x, float):
        return f"{x:.3g}{unit}"
    return f"{x}{unit}"


def markdown(result: dict) -> str:
    """The result as a markdown table: each measurement, genlab's number, the peer's, the ratio, the target."""
    rows = [("measurement", "genlab", "peer", "peer's", "speedup", "ceiling at peak", "target")]
    tr, limit = result.get("train_step", {}), result.get("limit", {}).get("models", {})
    for name, v in tr.items():
        rows.append((f"train step, {name} (batch {v['batch_size']})", _fmt(v["genlab"]["median_s"], " s"), "PyTorch",
                     _fmt(v.get("torch", {}).get("median_s"), " s"), _fmt(v.get("speedup"), "x"),
                     _fmt(limit.get(name, {}).get("speedup_ceiling"), "x"), ">= 2.5x"))
    if "sampling" in result:
        s = result["sampling"]
        rows.append((f"sampling, {s['steps']} DDIM steps x {s['prompts']} prompts, guided",
                     _fmt(s["genlab"]["median_s"], " s"), "diffusers DDIMScheduler",
                     _fmt(s.get("diffusers", {}).get("median_s"), " s"), _fmt(s.get("speedup"), "x"),
                     _fmt(s.get("speedup_ceiling"), "x"), ">= 5x"))
    if "flow2d" in result:
        f = result["flow2d"]
        rows.append((f"2D flow matching, train steps/s (batch {f['batch_size']})",
                     _fmt(f["train"]["genlab_steps_per_s"]),
                     "torchcfm", _fmt(f["train"].get("torchcfm_steps_per_s")), _fmt(f["train"].get("speedup"), "x"),
                     _fmt(f["train"].get("speedup_ceiling"), "x"), ">= 3x"))
        sa = f["sampling"]
        rows.append((f"2D Dopri5 sampling, {sa['samples']} points (NFE {sa['genlab_nfe']} vs "
                     f"{_fmt(sa.get('torchdiffeq_nfe'))})", _fmt(sa["genlab"]["median_s"], " s"), "torchdiffeq",
                     _fmt(sa.get("torchdiffeq", {}).get("median_s"), " s"), _fmt(sa.get("speedup"), "x"), "", ""))
    for name, v in limit.items():
        peer = f"{100 * v['torch_fraction_of_peak']:.1f} % of peak" if "torch_fraction_of_peak" in v else "skipped"
        rows.append((f"limit, {name}: GFLOP/s / matmul peak "
                     f"({_fmt(result['limit']['matmul']['peak_flops_per_s'] / 1e9)})", _fmt(v["flops_per_s"] / 1e9),
                     "PyTorch, same FLOPs", peer, f"{100 * v['fraction_of_peak']:.1f} % of peak", "100 %", ">= 50 %"))
    lines = ["| " + " | ".join(r) + " |" for r in rows]
    lines.insert(1, "|" + "---|" * len(rows[0]))
    m = result.get("machine", {})
    before = result.get("machine_before", {}).get("load_average")
    notes = [f"\nMachine: {m.get('cpu_count')} cores, load average (1, 5, 15 min) before {before}, after "
             f"{m.get('load_average')}; jax {m.get('jax')}, torch {m.get('torch')}."]
    if "sampling" in result and "max_abs_diff" in result["sampling"]:
        notes.append(f"Sampling cross-check: max |genlab - diffusers| of the final latents = "
                     f"{result['sampling']['max_abs_diff']:.2e} (latents up to "
                     f"{result['sampling']['latent_abs_max']:.2f}).")
    notes.append("Ceiling at peak: the peer's time over the time the same FLOPs (XLA's cost analysis) take at the "
                 "measured matmul peak; no implementation of that arithmetic on this machine is faster than that "
                 "ratio. A target above its ceiling cannot be met here.")
    for part, info in result.get("skipped", {}).items():
        notes.append(f"{part}: peer skipped ({info['reason']}).")
    return "\n".join(lines + notes) + "\n"
