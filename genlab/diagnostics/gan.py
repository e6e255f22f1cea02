"""``diagnose(history)``: what went wrong in a GAN run, in numbers and in words.

Four findings, read from a :class:`genlab.train.History` (or its dict/JSON form, or a NonFiniteError):

- ``non_finite``: a metric became NaN/Inf (the run blew up);
- ``mode_collapse``: the generator covers few modes/classes, or fewer than it once did;
- ``discriminator_overpowering``: mean D(G(z)) ≈ 0 and D(x) ≈ 1 while the generator's gradient
  collapses (the saturating loss's failure, Goodfellow 2014 §3; shared/REFERENCES.md);
- ``oscillation``: the covered modes hop: modes are lost while others are gained, again and again;
- ``between_modes``: 2D mixtures: the generator reaches the modes, but most of its samples lie between them
  (e.g. 3/3 modes covered, 26 % high quality): mass smeared over the gaps.

Train metrics used (names from ``gan_train_step``): d_real, d_fake, grad_norm_g, d_loss.
Evaluations used (``history.evals``): 2D runs ``modes_covered``, ``n_modes``, ``high_quality_fraction``,
``covered`` (bool per mode); image runs ``classes_covered``, ``n_classes``, ``class_entropy`` (nats) and
optionally ``covered`` (bool per class). Oscillation reads the 2D ``visited`` mask (modes holding a fair share of
the samples) when present, else ``covered``.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np

KINDS = ("non_finite", "mode_collapse", "discriminator_overpowering", "oscillation", "between_modes")
COLLAPSE_REMEDY = ("let the discriminator see several samples at once (PacGAN packing or minibatch standard "
                   "deviation), regularise it (R1 / gradient penalty), or use a WGAN-GP / hinge loss; unrolled steps "
                   "also help.")


@dataclasses.dataclass(frozen=True)
class Finding:
    """One problem: when it began, the numbers behind it, what it means, what to try."""

    kind: str  # one of KINDS
    step: int  # train step at which it began
    evidence: dict[str, float]
    explanation: str
    remedy: str

    def __str__(self) -> str:
        nums = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in self.evidence.items())
        return f"[{self.kind} from step {self.step}] {self.explanation} Evidence: {nums}. Try: {self.remedy}"


@dataclasses.dataclass(frozen=True)
class Thresholds:
    """The rules' numbers. Coverage is a fraction of the modes (or classes)."""

    low_coverage: float = 0.5  # collapse: covering at most this fraction of the modes ...
    patience: int = 3  # ... in each of the last `patience` evaluations
    min_hq_for_collapse: float = 0.2  # 2D: samples must be good, or sit near few modes (``modes_visited``)
    low_entropy: float = 0.6  # images: class entropy below this fraction of log(n_classes) is collapse
    coverage_drop: float = 0.25  # collapse also when coverage fell by this fraction of the modes from its peak
    d_fake_low: float = 0.05  # overpowering: mean D(G(z)) below this ...
    d_real_high: float = 0.95  # ... and mean D(x) above this ...
    grad_collapse: float = 0.1  # ... and the G gradient norm below this fraction of its earlier peak
    min_windows: int = 3  # ... for at least this many consecutive windows (or until the end)
    windows: int = 50  # train metrics are averaged over about this many windows
    min_hops: int = 3  # oscillation: at least this many evaluations that lose some modes and gain others
    hop_fraction: float = 0.3  # ... and at least this fraction of all transitions
    smeared_hq: float = 0.5  # between modes: at most this fraction of samples within 3σ of a mode (perfect: 98.9 %)


def _as_history_dict(history: Any) -> dict[str, Any]:
    if hasattr(history, "history") and hasattr(history, "metric"):  # a NonFiniteError
        history = history.history
    if hasattr(history, "as_dict"):
        history = history.as_dict()
    if not isinstance(history, dict) or "steps" not in history:
        raise ValueError("diagnose expects a genlab History, its as_dict(), a loaded JSON history or a "
                         f"NonFiniteError; got {type(history).__name__}")
    return {"steps": list(history["steps"]), "metrics": dict(history.get("metrics", {})),
            "evals": list(history.get("evals", []))}


# ------------------------------------------------------------------------------------------- rules
def _non_finite(h: dict) -> Finding | None:
    first = None
    for name, values in h["metrics"].items():
        bad = [i for i, v in enumerate(values) if v is None or not math.isfinite(float(v))]
        if bad and (first is None or h["steps"][bad[0]] < first[0]):
            first = (h["steps"][bad[0]], name, float("nan") if values[bad[0]] is None else float(values[bad[0]]))
    if first is None:
        return None
    step, name, value = first
    return Finding(
        "non_finite", step, {"metric": name, "value": value},
        f"The metric {name!r} became {value} at step {step}: some weights or activations overflowed, "
        "and every later step computes on garbage.",
        "lower the learning rates, clip gradients, add R1 or a gradient penalty, and restart from the last "
        "good checkpoint.")


def _coverage_series(evals: list[dict]) -> tuple[list[int], list[float], str, list[dict]]:
    rows = [e for e in evals if "modes_covered" in e or "classes_covered" in e]
    if not rows:
        return [], [], "", []
    unit = "modes" if "modes_covered" in rows[0] else "classes"
    n_key = "n_modes" if unit == "modes" else "n_classes"
    frac = [float(e[f"{unit}_covered"]) / float(e[n_key]) for e in rows]
    return [int(e["step"]) for e in rows], frac, unit, rows


def _mode_collapse(h: dict, t: Thresholds) -> Finding | None:
    steps, frac, unit, rows = _coverage_series(h["evals"])
    if len(rows) < t.patience:
        return None
    n = float(rows[-1]["n_modes" if unit == "modes" else "n_classes"])

    def low(e: dict, f: float) -> bool:
        if unit == "modes":
            sharp = float(e.get("high_quality_fraction", 1.0)) >= t.min_hq_for_collapse
            few_visited = float(e.get("modes_visited", n)) <= t.low_coverage * n
            return f <= t.low_coverage and (sharp or few_visited)
        entropy_low = "class_entropy" in e and float(e["class_entropy"]) < t.low_entropy * math.log(n)
        return f <= t.low_coverage or entropy_low

    peak = max(frac[:-1]) if len(frac) > 1 else frac[0]
    fell = all(peak - f >= t.coverage_drop for f in frac[-t.patience:])
    if not (all(low(e, f) for e, f in zip(rows[-t.patience:], frac[-t.patience:])) or fell):
        return None
    begin = len(rows) - 1  # walk back to where the bad stretch began
    while begin > 0 and (low(rows[begin - 1], frac[begin - 1]) or (fell and peak - frac[begin - 1] >= t.coverage_drop)):
        begin -= 1
    last = rows[-1]
    evidence = {f"{unit}_covered": int(last[f"{unit}_covered"]), f"n_{unit}": int(n), f"peak_{unit}_covered": peak * n}
    for key in ("high_quality_fraction", "modes_visited", "class_entropy"):
        if key in last:
            evidence[key] = float(last[key])
    covered = int(last[f"{unit}_covered"])
    explanation = (
        f"The generator produces only {covered} of {int(n)} {unit}"
        + (f" (it once reached {peak * n:.0f})" if peak * n > covered else "")
        + (f", and its samples sit near only {int(last['modes_visited'])} of them"
           if unit == "modes" and "modes_visited" in last else ""))
    remedy = COLLAPSE_REMEDY
    if covered == 0 and peak == 0:  # nothing ever landed on the data: not collapse onto modes, no learning at all
        explanation += (": none of its samples has ever reached the data, so it has not learned the distribution "
                        "at all (often because its gradient vanished: see discriminator_overpowering).")
        remedy = "first make the generator learn, then " + COLLAPSE_REMEDY
    else:
        explanation += (": it found a few outputs that fool the discriminator and maps almost every z to them, so "
                        "the rest of the data distribution is missing.")
    return Finding("mode_collapse", steps[begin], evidence, explanation, remedy)


def _windowed(values: list[float], windows: int) -> tuple[np.ndarray, int]:
    x = np.asarray(values, float)
    size = max(1, len(x) // windows)
    n = len(x) // size
    return x[: n * size].reshape(n, size).mean(axis=1), size


def _overpowering(h: dict, t: Thresholds) -> Finding | None:
    m = h["metrics"]
    if not all(k in m and len(m[k]) for k in ("d_fake", "d_real", "grad_norm_g")):
        return None
    d_fake, size = _windowed(m["d_fake"], t.windows)
    d_real, _ = _windowed(m["d_real"], t.windows)
    g_norm, _ = _windowed(m["grad_norm_g"], t.windows)
    with np.errstate(invalid="ignore"):
        peak = np.maximum.accumulate(np.nan_to_num(g_norm, nan=0.0))
        bad = (d_fake < t.d_fake_low) & (d_real > t.d_real_high) & (g_norm < t.grad_collapse * peak)
    run_start, best = None, None
    for i, b in enumerate(bad):
        if b and run_start is None:
            run_start = i
        if run_start is not None and (not b or i == len(bad) - 1):
            end = i if not b else i + 1
            if end - run_start >= t.min_windows or (b and i == len(bad) - 1):
                best = (run_start, end)
                break
            run_start = None
    if best is None:
        return None
    i0, i1 = best
    step = h["steps"][i0 * size]
    evidence = {"d_fake": float(d_fake[i1 - 1]), "d_real": float(d_real[i1 - 1]),
                "grad_norm_g": float(g_norm[i1 - 1]), "grad_norm_g_peak": float(peak[i1 - 1])}
    if "d_loss" in m:
        evidence["d_loss"] = float(_windowed(m["d_loss"], t.windows)[0][i1 - 1])
    return Finding(
        "discriminator_overpowering", step, evidence,
        f"From step {step} the discriminator rejects the fakes with certainty (mean D(G(z)) = "
        f"{evidence['d_fake']:.3g}, D(x) = {evidence['d_real']:.3g}) and the generator's gradient has shrunk to "
        f"{evidence['grad_norm_g'] / max(evidence['grad_norm_g_peak'], 1e-30):.2%} of its peak: with the saturating "
        "loss log(1 − D(G(z))) the gradient is −D(G(z)) → 0, so the generator stops learning.",
        "use the non-saturating generator loss −log D(G(z)), weaken the discriminator (smaller, lower learning "
        "rate, fewer D steps) or regularise it with R1 / a gradient penalty.")


def _oscillation(h: dict, t: Thresholds) -> Finding | None:
    # Where the samples sit ("visited", 2D) hops even when they are too blurry to cover a mode; else "covered".
    mask_key = "visited" if any("visited" in e for e in h["evals"]) else "covered"
    rows = [e for e in h["evals"] if mask_key in e]
    if len(rows) < 2:
        return None
    masks = [np.asarray(e[mask_key], bool) for e in rows]
    hops = [i for i in range(1, len(masks))
            if (masks[i - 1] & ~masks[i]).any() and (masks[i] & ~masks[i - 1]).any() and not masks[i].all()]
    if len(hops) < t.min_hops or len(hops) < t.hop_fraction * (len(masks) - 1):
        return None
    lost = np.mean([(masks[i - 1] & ~masks[i]).sum() for i in hops])
    gained = np.mean([(masks[i] & ~masks[i - 1]).sum() for i in hops])
    step = int(rows[hops[0]]["step"])
    return Finding(
        "oscillation", step,
        {"hops": len(hops), "evaluations": len(masks), "mean_lost": float(lost), "mean_gained": float(gained)},
        f"In {len(hops)} of {len(masks) - 1} evaluations the generator dropped some modes and jumped to others: "
        "the discriminator learns to reject where the fakes are, the generator moves to the next mode, and the "
        "game circles instead of converging (like DiracGAN's eigenvalues ±0.5i).",
        "damp the game: R1 or a gradient penalty on D, lower learning rates or Adam β1 = 0.5, two-timescale "
        "updates, or an EMA of the generator's weights.")


def _between_modes(h: dict, t: Thresholds) -> Finding | None:
    rows = [e for e in h["evals"] if "modes_covered" in e and "high_quality_fraction" in e]
    if len(rows) < 2:
        return None
    last = rows[-min(t.patience, len(rows)):]
    smeared = lambda e: int(e["modes_covered"]) > 0 and float(e["high_quality_fraction"]) < t.smeared_hq  # noqa: E731
    if not all(smeared(e) for e in last):
        return None
    begin = len(rows) - len(last)
    while begin > 0 and smeared(rows[begin - 1]):
        begin -= 1
    e = rows[-1]
    hq, covered, n = float(e["high_quality_fraction"]), int(e["modes_covered"]), int(e["n_modes"])
    return Finding(
        "between_modes", int(rows[begin]["step"]),
        {"modes_covered": covered, "n_modes": n, "high_quality_fraction": hq, "between_fraction": 1.0 - hq},
        f"The generator reaches {covered} of {n} modes, but only {hq:.0%} of its samples lie within 3σ of a mode "
        f"(a perfect sampler: 98.9 %): {1 - hq:.0%} are smeared between the modes, so the samples look unlike the "
        "data although every mode counts as covered.",
        "train longer with a learning rate that decays to 0 at the end (the samples settle onto the modes), give "
        "the discriminator more capacity or steps so that it punishes points between modes, and work at the data's "
        "scale (divide the data by its radius so that σ is not tiny for the networks).")


def diagnose(history: Any, thresholds: Thresholds = Thresholds()) -> list[Finding]:
    """Findings in ``history`` (a History, its dict, a loaded JSON history, or a NonFiniteError), by step."""
    h = _as_history_dict(history)
    findings = [_non_finite(h), _mode_collapse(h, thresholds), _overpowering(h, thresholds),
                _oscillation(h, thresholds), _between_modes(h, thresholds)]
    return sorted((f for f in findings if f is not None), key=lambda f: (f.step, KINDS.index(f.kind)))


def diagnose_callback(thresholds: Thresholds = Thresholds(), report=print):
    """``cb(step, objects, history)`` for ``fit``: runs ``diagnose`` on the history so far and reports each
    kind of finding once, as it appears. Put it after the evaluation callback. Returns nothing to the history."""
    seen: set[str] = set()

    def callback(step: int, objects: tuple, history) -> None:
        for finding in diagnose(history, thresholds):
            if finding.kind not in seen:
                seen.add(finding.kind)
                report(f"[diagnose at step {step}] {finding}")
        return None

    return callback
