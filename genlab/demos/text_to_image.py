"""Lecture figures of text-to-image latent diffusion: the pipeline diagram, the denoising film strip and GIF,
and a guidance grid, from one pipeline (the shipped one, ``TextToImage.load()``, or a freshly trained one).

    pipe = TextToImage.load()
    write_text_to_image(pipe, "runs/demo/latent_diffusion")   # 3 PNGs and a GIF

The figures themselves are built by ``genlab.figures.text_to_image``; nothing here trains.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from genlab.demos.files import save_figures
from genlab.figures import text_to_image as figures

PROMPT = "a photo of a dark sneaker"
PROMPTS = (PROMPT, "a t-shirt", "a photo of a large bag")  # the pipeline stage by stage, for each
GRID_PROMPTS = ("a t-shirt", "trousers", "a dress", "a sneaker", "a bag")
GUIDANCE_VALUES = (1.0, 2.0, 3.0, 5.0, 7.5)


def guidance_images(pipe, prompts: Sequence[str], guidance_values: Sequence[float], *, per_prompt: int = 4,
                    steps: int = 50, seed: int = 0) -> dict[float, np.ndarray]:
    """``{w: [P, per_prompt, 28, 28, 1]}``: the same start noise (``seed``) for every w, so only w differs."""
    flat = [p for p in prompts for _ in range(per_prompt)]
    return {float(w): pipe(flat, steps=steps, guidance=float(w), seed=seed).reshape(len(prompts), per_prompt,
                                                                                      28, 28, 1)
            for w in guidance_values}


def text_to_image_figures(pipe, *, prompts: Sequence[str] = PROMPTS, steps: int = 50, guidance: float = 3.0,
                          seed: int = 0, grid_prompts: Sequence[str] = GRID_PROMPTS,
                          guidance_values: Sequence[float] = GUIDANCE_VALUES, per_prompt: int = 4):
    """``(figures, stages)``: ``{file name: Figure}`` for the diagram and the film strip of each of ``prompts`` (the
    first as ``ldm_pipeline.png``/``ldm_film_strip.png``, then ``..._2.png``, ...) and the guidance grid, and the
    :class:`~genlab.pipelines.text_to_image.Stages` of the first prompt (for :func:`write_text_to_image`'s GIF)."""
    figs, first = {}, None
    for k, prompt in enumerate(prompts):
        stages = pipe([prompt], steps=steps, guidance=guidance, seed=seed, return_stages=True)
        suffix = "" if k == 0 else f"_{k + 1}"
        figs[f"ldm_pipeline{suffix}.png"] = figures.pipeline_diagram(stages, pieces=pipe.tokenizer.pieces(prompt))
        figs[f"ldm_film_strip{suffix}.png"] = figures.denoising_film_strip(stages, decode=pipe.decode)
        first = first or stages
    by_w = guidance_images(pipe, grid_prompts, guidance_values, per_prompt=per_prompt, steps=steps, seed=seed)
    figs["ldm_guidance_grid.png"] = figures.guidance_grid(by_w, list(grid_prompts))
    return figs, first


def write_text_to_image(pipe, out_dir: str | Path, **kwargs) -> list[Path]:
    """Save :func:`text_to_image_figures` and the denoising GIF under ``out_dir``; returns the paths."""
    figs, stages = text_to_image_figures(pipe, **kwargs)
    written = save_figures(figs, out_dir)
    written.append(figures.denoising_animation(stages, Path(out_dir) / "ldm_denoising.gif", pipe.decode))
    return written
