"""What a text-to-image model's images follow, measured: the evaluation of ``latent-diffusion``.

- prompt accuracy: the reference classifier's class of each image agrees with the prompt's class (prompts of
  every class, names and templates cycled);
- tone and size accuracy: prompts that say "dark"/"light" or "small"/"large" (never a held-out pair); the
  generated garment is measured with the caption rules (``genlab.data.captions.tone_of``/``size_of``, at the
  class the prompt asked for);
- held-out combinations (``captions.HELD_OUT``, never said in training): both the class and the attribute right;
- Fréchet distance in the reference classifier's features beside the real-versus-real floor and the FD of VAE
  reconstructions (the best any model of these latents can do); classes covered and class entropy;
- a guidance sweep (prompt, tone, size and held-out accuracy, FD per w) and a steps sweep (DDPM, DDIM, DPM-Solver++), and the time to sample 64 images.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import numpy as np

from genlab.data.captions import HELD_OUT, SIZES, TONES, prompts, said_allowed, size_of, tone_of
from genlab.data.images import load_images
from genlab.metrics.classes import class_stats
from genlab.metrics.frechet import frechet_distance, real_floor
from genlab.metrics.reference import reference_classifier
from genlab.pipelines.latents import reconstruct

NUM_CLASSES = 10


@dataclasses.dataclass(frozen=True)
class LDMEval:
    sampler: str = "ddim"
    steps: int = 50
    guidance: float = 3.0  # the default w of eps_null + w (eps_cond - eps_null)
    per_class: int = 50  # images per class for prompt accuracy
    per_attribute: int = 20  # images per (class, attribute value) for tone and size accuracy
    fd_samples: int = 2000
    guidance_sweep: tuple[float, ...] = (1.0, 2.0, 3.0, 5.0, 7.5, 10.0)
    steps_sweep: tuple[int, ...] = (5, 10, 20, 50, 100)
    sweep_per_class: int = 20  # images per class in each sweep point
    sweep_per_attribute: int = 10  # images per (class, attribute value) in each guidance-sweep point
    sweep_fd_samples: int = 500  # FD samples per guidance-sweep point
    ddpm_full: bool = True  # also DDPM at all 1000 steps
    batch: int = 250  # images per compiled sampling call

    @classmethod
    def tiny(cls) -> LDMEval:
        return cls(steps=4, per_class=2, per_attribute=1, fd_samples=40, guidance_sweep=(1.0, 3.0),
                   steps_sweep=(2, 4), sweep_per_class=1, sweep_per_attribute=1, sweep_fd_samples=20, ddpm_full=False, batch=20)

    @classmethod
    def cpu(cls) -> LDMEval:
        return cls()

    @classmethod
    def gpu(cls) -> LDMEval:
        return cls(per_class=200, per_attribute=100, fd_samples=10_000, sweep_per_class=100, sweep_per_attribute=50,
                   sweep_fd_samples=2000,
                   batch=1000)


def class_prompts(per_class: int) -> tuple[list[str], np.ndarray]:
    """``per_class`` prompts of every class (names x templates cycled) and their labels ``[10 * per_class]``."""
    texts, labels = [], []
    for c in range(NUM_CLASSES):
        options = prompts(c)
        texts += [options[i % len(options)] for i in range(per_class)]
        labels += [c] * per_class
    return texts, np.array(labels)


def attribute_prompts(kind: str, per_value: int, held_out: bool) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Prompts that say a tone (``kind="tone"``) or a size: ``(texts, labels, values)``; ``held_out`` picks the
    pairs of ``HELD_OUT`` only, else every pair allowed in training."""
    words = TONES if kind == "tone" else SIZES
    texts, labels, values = [], [], []
    for c in range(NUM_CLASSES):
        for v, word in enumerate(words):
            if ((c, word) in HELD_OUT) != held_out or (not held_out and not said_allowed(c, word)):
                continue
            options = prompts(c, **{kind: v})
            texts += [options[i % len(options)] for i in range(per_value)]
            labels += [c] * per_value
            values += [v] * per_value
    return texts, np.array(labels, int), np.array(values, int)


def prompt_accuracy_of(pipe, texts, labels, seed, **kw) -> tuple[float, np.ndarray]:
    images = pipe.generate(texts, seed=seed, **kw)
    return float(np.mean(reference_classifier().predict(images) == labels)), images


def sample_fd(pipe, n: int, real_feats: np.ndarray, seed: int, **kw) -> tuple[float, np.ndarray]:
    texts, _ = class_prompts(-(-n // NUM_CLASSES))
    images = pipe.generate(texts[:n] if len(texts) >= n else texts, seed=seed, **kw)
    return frechet_distance(reference_classifier().features(images), real_feats[:n]), images


def fd_references(vae, n: int, seed: int) -> tuple[np.ndarray, float, float]:
    """What an FD on ``n`` samples is measured against: reference-classifier features of ``2n`` real train
    images ``[2n, F]`` (a seeded draw; the first n are the FD's real side), the real-versus-real floor, and the FD
    of ``n`` further images reconstructed by ``vae`` (the best any model of its latents can do)."""
    ref = reference_classifier()
    real = load_images("fashion_mnist", "train")
    order = np.random.default_rng(seed).permutation(len(real))
    real_feats = ref.features(real.images[order[: 2 * n]])  # [2n, F]
    recon = reconstruct(vae, real.images[order[2 * n : 3 * n]])
    return real_feats, real_floor(real_feats, n, seed), frechet_distance(ref.features(recon), real_feats[:n])


def attribute_accuracies(pipe, per_attribute: int, seed: int, **kw) -> dict[str, float]:
    """``tone_accuracy``, ``size_accuracy`` (prompts of every allowed class-attribute pair) and
    ``heldout_combination_accuracy`` (the ``HELD_OUT`` pairs: class and attribute both right)."""
    out = {}
    for kind, measure in (("tone", tone_of), ("size", size_of)):
        t, lab, val = attribute_prompts(kind, per_attribute, held_out=False)
        images = pipe.generate(t, seed=seed, **kw)
        out[f"{kind}_accuracy"] = float(np.mean(measure(images, lab) == val))
    hits = []
    for kind, measure in (("tone", tone_of), ("size", size_of)):
        t, lab, val = attribute_prompts(kind, per_attribute, held_out=True)
        images = pipe.generate(t, seed=seed, **kw)
        hits.append((measure(images, lab) == val) & (reference_classifier().predict(images) == lab))
    out["heldout_combination_accuracy"] = float(np.mean(np.concatenate(hits)))
    return out


def evaluate(pipe, cfg: LDMEval, seed: int) -> dict[str, Any]:
    """Every number of the module docstring for the pipeline ``pipe`` (a ``TextToImage``)."""
    ref = reference_classifier()
    kw = dict(sampler=cfg.sampler, steps=cfg.steps, guidance=cfg.guidance, batch=cfg.batch)
    out: dict[str, Any] = {"sampler": cfg.sampler, "sampler_steps": cfg.steps, "guidance": cfg.guidance}
    texts, labels = class_prompts(cfg.per_class)
    out["prompt_accuracy"], _ = prompt_accuracy_of(pipe, texts, labels, seed, **kw)
    dpmpp = {**kw, "sampler": "dpmpp_2m", "steps": 10}
    out["prompt_accuracy_dpmpp_10"], _ = prompt_accuracy_of(pipe, texts, labels, seed, **dpmpp)
    out.update(attribute_accuracies(pipe, cfg.per_attribute, seed, **kw))
    out["heldout_combinations"] = sorted(f"{w} {c}" for c, w in HELD_OUT)

    n = cfg.fd_samples
    real_feats, out["fd_floor"], out["fd_vae_recon"] = fd_references(pipe.vae, n, seed)
    out["fd"], fake = sample_fd(pipe, n, real_feats, seed, **kw)
    stats = class_stats(ref.predict(fake), NUM_CLASSES, min_fraction=0.1 / NUM_CLASSES)
    out.update(classes_covered=stats.classes_covered, class_entropy=float(stats.entropy), fd_samples=n)

    sweep_texts, sweep_labels = class_prompts(cfg.sweep_per_class)
    out["guidance_sweep"] = [
        {"guidance": w,
         "prompt_accuracy": prompt_accuracy_of(pipe, sweep_texts, sweep_labels, seed, **{**kw, "guidance": w})[0],
         "fd": sample_fd(pipe, cfg.sweep_fd_samples, real_feats, seed, **{**kw, "guidance": w})[0],
         **attribute_accuracies(pipe, cfg.sweep_per_attribute, seed, **{**kw, "guidance": w})}
        for w in cfg.guidance_sweep]
    runs = [(s, k) for s in ("ddpm", "ddim", "dpmpp_2m") for k in cfg.steps_sweep]
    runs += [("ddpm", 1000)] if cfg.ddpm_full else []
    out["steps_sweep"] = []
    for sampler, steps in runs:
        t0 = time.perf_counter()
        acc, _ = prompt_accuracy_of(pipe, sweep_texts, sweep_labels, seed, **{**kw, "sampler": sampler, "steps": steps})
        out["steps_sweep"].append({"sampler": sampler, "steps": steps, "prompt_accuracy": acc,
                                   "seconds": round(time.perf_counter() - t0, 2)})
    pipe(texts[:64], seed=seed, sampler=cfg.sampler, steps=cfg.steps, guidance=cfg.guidance)  # compile
    t0 = time.perf_counter()
    pipe(texts[:64], seed=seed + 1, sampler=cfg.sampler, steps=cfg.steps, guidance=cfg.guidance)
    out["sample_seconds_64"] = round(time.perf_counter() - t0, 3)
    out["prompt_accuracy_n"], out["fd_real_n"] = len(texts), 2 * n
    return out
