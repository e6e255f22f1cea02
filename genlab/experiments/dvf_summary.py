"""Summaries of ``diffusion-vs-flow`` over seeds: mean and spread of every quality number, the first NFE at which
each arm is good, and the closing note that states the lecture's claims against these numbers (2D data sets:
:func:`closing_note`; the latent text-to-image half: :func:`latent_closing_note`)."""

from __future__ import annotations

import numpy as np

from genlab.experiments import flow2d_setup as S
from genlab.experiments.dvf_setup import ARM


def _stats(values: list) -> tuple[float | None, float | None]:
    vals = [float(v) for v in values if v is not None]
    return (None, None) if not vals else (float(np.mean(vals)), float(np.std(vals)))


def _quality_stats(qs: list[dict]) -> dict:
    """Mean and spread (std over seeds) of each quality number; ``num_modes`` as it is."""
    out = {}
    for key in ("modes_covered", "high_quality", "energy_distance"):
        if key in qs[0]:
            mean, std = _stats([q.get(key) for q in qs])
            out[key] = None if mean is None else round(mean, 5)
            out[f"{key}_std"] = None if std is None else round(std, 5)
    if qs[0].get("num_modes") is not None:
        out["num_modes"] = qs[0]["num_modes"]
    if any(q.get("finite") is False for q in qs):
        out["non_finite_seeds"] = sum(q.get("finite") is False for q in qs)
    return out


def _point_stats(points: list[dict | None]) -> dict | None:
    if points[0] is None:
        return None
    out = {k: points[0][k] for k in ("nfe_budget", "rtol", "steps") if k in points[0]}
    nfe_mean, nfe_std = _stats([p["nfe"] for p in points])
    out["nfe"] = int(nfe_mean) if nfe_std == 0 else round(nfe_mean, 1)
    out["model"] = _quality_stats([p["model"] for p in points])
    with_oracle = [p for p in points if "perfect_model" in p]  # the first seed's (same noise as its model)
    if with_oracle:
        out["perfect_model"] = _quality_stats([p["perfect_model"] for p in with_oracle])
        out["perfect_model_nfe"] = with_oracle[0]["perfect_model_nfe"]
    return out


def is_good(quality: dict | None, ev) -> bool:
    """Every mode covered and ``hq_min`` high quality (mixtures), else energy distance at most ``energy_max``."""
    if not quality:
        return False
    if quality.get("num_modes") is not None:
        return quality["modes_covered"] >= quality["num_modes"] and quality["high_quality"] >= ev.hq_min
    return quality.get("energy_distance") is not None and quality["energy_distance"] <= ev.energy_max


def first_good_nfe(points: list[dict | None], which: str, ev) -> int | None:
    """The smallest NFE at which ``which`` ("model" or "perfect_model") is good (means over seeds), else None."""
    good = [p["nfe"] for p in points if p is not None and which in p and is_good(p[which], ev)]
    return min(good) if good else None


def summarize(config, name: str, runs: list[dict]) -> dict:
    ev = config.eval
    table = {a: [_point_stats([r["table"][a][i] for r in runs]) for i in range(len(ev.nfe))] for a in runs[0]["table"]}
    adaptive = {a: [_point_stats([r["adaptive"][a][i] for r in runs]) for i in range(len(ev.tolerances))]
                for a in runs[0]["adaptive"]}
    out = {"data": name, "oracle": S.oracle_kind(name), "table": table, "adaptive": adaptive}
    if "ddpm_full" in runs[0]:
        out["ddpm_full"] = _point_stats([r["ddpm_full"] for r in runs])
    out["first_good_nfe"] = {
        a: {w: first_good_nfe(pts + ([out["ddpm_full"]] if a == "ddpm" and "ddpm_full" in out else []), w, ev)
            for w in ("model", "perfect_model")}
        for a, pts in {**table, **adaptive}.items()}
    errs = [r["oracle_error"] for r in runs]
    out["oracle_error"] = {"t": errs[0]["t"], "tau_diffusion": errs[0]["tau_diffusion"]}
    for kind in ("diffusion", "flow", "rectified"):
        out["oracle_error"][kind] = {k: [round(float(np.mean(v)), 6) for v in zip(*(e[kind][k] for e in errs))]
                                     for k in errs[0][kind]}
    out["energy_floor"] = round(float(np.mean([r["energy_floor"] for r in runs])), 5)
    out["train"] = {k: round(float(np.mean([r["train"][k] for r in runs])), 4) for k in runs[0]["train"]}
    out["seconds_mean"] = round(float(np.mean([r["seconds"] for r in runs])), 1)
    out["per_seed_first_good_nfe"] = [
        {a: first_good_nfe(r["table"][a], "model", ev) for a in r["table"]} for r in runs]
    return out


def closing_note(summaries: dict[str, dict], ev) -> list[str]:
    """The lecture's claims against these numbers, one line each per data set."""
    good = (f"'good' = every mode covered and >= {ev.hq_min:.0%} high quality (moons: energy distance <= "
            f"{ev.energy_max})")
    lines = [good]

    def n(s, arm, which="model"):
        v = s["first_good_nfe"][arm][which]
        return "never (up to the largest budget)" if v is None else f"NFE {v}"

    for name, s in summaries.items():
        fg = s["first_good_nfe"]
        lines.append(
            f"{name}: 'diffusion removes noise step by step, over many iterations' - DDPM is good from "
            f"{n(s, 'ddpm')}, DDIM from {n(s, 'ddim')}, DPM-Solver++ from {n(s, 'dpm_solver')}, its PF-ODE with "
            f"Heun from {n(s, 'pf_heun')}: many iterations for the ancestral sampler, far fewer with a better solver.")
        direct = fg["rf2_euler"]["model"] == 1
        lines.append(
            f"{name}: 'flow matching transforms noise directly' - flow matching with Euler is good from "
            f"{n(s, 'flow_euler')} (its perfect model from {n(s, 'flow_euler', 'perfect_model')}), with Heun from "
            f"{n(s, 'flow_heun')}; the 2-rectified flow with Euler from {n(s, 'rf2_euler')}: one step "
            + ("works after reflow." if direct else "does not work here, even after one reflow."))
        lines.append(
            f"{name}: same network, same budget: the sampler decides more than the objective - perfect models "
            f"(no model error) need DDIM {n(s, 'ddim', 'perfect_model')}, PF-ODE Euler "
            f"{n(s, 'pf_euler', 'perfect_model')}, flow Euler {n(s, 'flow_euler', 'perfect_model')}.")
    return lines


def _best(table: dict, arms: list[str], i: int, metric: str) -> tuple[float | None, str | None]:
    cells = [(table[a][i]["model"][metric], a) for a in arms if a in table and table[a][i] is not None]
    if not cells:
        return None, None
    return (max if metric == "prompt_accuracy" else min)(cells, key=lambda c: c[0])  # ties: the first arm


def latent_closing_note(latent: dict) -> list[str]:
    """For which NFE the flow (best of its fixed-step samplers) and the 2-rectified flow beat the best diffusion
    sampler (DDPM, DDIM, DPM-Solver++, PF-ODE), on prompt accuracy and on FD (means over seeds)."""
    if latent.get("status") != "measured":
        return [f"latent text-to-image: {latent.get('status')} ({latent.get('why', '')})"]
    table, nfe = latent["table"], latent["nfe"]
    family = {m: [a for a in table if ARM[a].model == m] for m in ("diffusion", "flow", "rectified")}
    w = latent["guidance_per_model"]
    lines = [f"latent text-to-image (shipped models, w = {w['diffusion']:g}; the 2-rectified flow at its own "
             f"w = {w['rectified']:g}; means over {len(latent['seeds'])} seed(s)); budgets: {latent['matched_why']}"]
    apart = [f"{m} {part}" for m, parts in latent.get("shared", {}).items() for part, same in parts.items() if not same]
    if apart:
        lines[0] += "; NOT shared with the diffusion model: " + ", ".join(apart)
    for metric, name, unit in (("prompt_accuracy", "prompt accuracy", "higher is better"),
                               ("fd", "FD", f"lower is better; VAE reconstructions {latent['fd_vae_recon']:.1f}, "
                                            f"floor {latent['fd_floor']:.1f}")):
        better = (lambda a, b: a > b) if metric == "prompt_accuracy" else (lambda a, b: a < b)
        wins, at = {}, []
        for m in ("flow", "rectified"):
            wins[m] = [n for i, n in enumerate(nfe)
                       if None not in (v := (_best(table, family[m], i, metric)[0],
                                             _best(table, family["diffusion"], i, metric)[0]))
                       and better(*v)]
        for i in sorted({0, len(nfe) - 1}):
            vals = {m: _best(table, family[m], i, metric) for m in ("diffusion", "flow", "rectified")}
            at.append(f"NFE {nfe[i]}: " + ", ".join(f"{m} {v:.3g} ({ARM[a].label})" for m, (v, a) in vals.items()
                                                   if v is not None))
        says = {m: ("NFE " + ", ".join(map(str, wins[m]))) if wins[m] else "no NFE" for m in wins}
        lines.append(f"latent {name} ({unit}): flow matching beats the best diffusion sampler at {says['flow']}, the "
                     f"2-rectified flow (Euler) at {says['rectified']} (of NFE {', '.join(map(str, nfe))}); "
                     + "; ".join(at) + ".")
    return lines
