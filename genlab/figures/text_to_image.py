"""Lecture figures of text-to-image latent diffusion, drawn from the real tensors of one pipeline call.

Every function takes the :class:`~genlab.pipelines.text_to_image.Stages` of
``pipe(prompts, return_stages=True)`` (or anything with the same fields):

- :func:`pipeline_diagram`: the lecture's diagram for one prompt: prompt -> token pieces and ids -> text
  states -> noisy latent -> the U-Net's noise estimates and the latents at a few steps -> decoded image;
- :func:`denoising_film_strip`: the latent's channels and the decoded x0 estimate at chosen steps;
- :func:`denoising_animation`: the same as a GIF, one frame per sampling step;
- :func:`guidance_grid`: images for several guidance values w side by side.

Latents ``[h, w, c]`` are drawn as their c channels tiled two by two (7x7x4 -> one 2x2 mosaic), on one
symmetric colour scale per panel; images ``[28, 28, 1]`` in [-1, 1] in grey. ``decode`` is any function
from scaled latents ``[N, h, w, c]`` to images ``[N, 28, 28, 1]`` (e.g. ``pipe.decode``).
Labels are English with the lecture's German term beside.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import ConnectionPatch

from genlab.figures.gan_images import tile
from genlab.figures.notes import add_note

if TYPE_CHECKING:
    from genlab.pipelines.text_to_image import Stages

Decode = Callable[[np.ndarray], np.ndarray]  # scaled latents [N, h, w, c] -> images [N, 28, 28, 1]


def channel_mosaic(z: np.ndarray, cols: int = 2) -> np.ndarray:
    """``z: [h, w, c]`` -> ``[rows*(h+1)-1, cols*(w+1)-1]``: the channels tiled row by row, NaN between them."""
    z = np.asarray(z, np.float32)
    if z.ndim != 3:
        raise ValueError(f"a latent is [h, w, c], got shape {z.shape}")
    h, w, c = z.shape
    rows = math.ceil(c / cols)
    out = np.full((rows * (h + 1) - 1, cols * (w + 1) - 1), np.nan, np.float32)
    for k in range(c):
        r, q = divmod(k, cols)
        out[r * (h + 1): r * (h + 1) + h, q * (w + 1): q * (w + 1) + w] = z[..., k]
    return out


def _scale(z: np.ndarray) -> float:
    """One colour limit for a run of latents: the 99.5th percentile of |z| (an outlier does not wash out the rest)."""
    return float(np.percentile(np.abs(z), 99.5)) or 1.0


def _latent(ax, z: np.ndarray, title: str, lim: float | None = None) -> None:
    lim = lim or float(np.max(np.abs(z))) or 1.0
    ax.imshow(channel_mosaic(z), cmap="RdBu_r", vmin=-lim, vmax=lim)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title, fontsize=7)


def _image(ax, x: np.ndarray, title: str) -> None:
    ax.imshow(np.clip(np.asarray(x)[..., 0], -1, 1), cmap="gray", vmin=-1, vmax=1)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title, fontsize=7)


def _arrow(fig: Figure, ax_from, ax_to, *, up: bool = False) -> None:
    """An arrow from the right edge of ``ax_from`` to the left edge of ``ax_to`` (``up``: top edge to bottom edge)."""
    a, b = ((0.5, 1.0), (0.5, 0.0)) if up else ((1.0, 0.5), (0.0, 0.5))
    fig.add_artist(ConnectionPatch(a, b, "axes fraction", "axes fraction", axesA=ax_from, axesB=ax_to,
                                   arrowstyle="-|>", color="0.35", lw=1.0, mutation_scale=9))


def step_picks(num_steps: int, n: int) -> list[int]:
    """``n`` step indices evenly spaced from the first (0) to the last (``num_steps - 1``), without repeats."""
    if num_steps < 1:
        raise ValueError("no sampling steps to show")
    return sorted({int(round(i)) for i in np.linspace(0, num_steps - 1, min(n, num_steps))})


def pipeline_diagram(stages: Stages, index: int = 0, *, pieces: Sequence[str] | None = None,
                     shown_steps: int = 3, dpi: float | None = None) -> Figure:
    """The lecture's diagram for prompt ``index`` of ``stages``, drawn from the real tensors.

    Top (the text): the prompt, its tokens (``pieces``, e.g. ``pipe.tokenizer.pieces(prompt)``, beside the ids;
    ids only when None) and the text states ``[L, D]`` of the tokens the mask keeps. Bottom (the latent):
    ``x_T``, the latent after ``shown_steps`` steps spread over the run with the U-Net's noise estimate that
    made each one below it, the final latent, and the decoded image.
    """
    prompt = stages.prompts[index]
    ids, mask = np.asarray(stages.token_ids[index]), np.asarray(stages.token_mask[index], bool)
    n = len(stages.timesteps)
    picks = step_picks(n, shown_steps + 1)[:-1] if n > 1 else []  # the last step's latent is the final latent
    cols = len(picks) + 3  # x_T, the steps, the final latent, the image
    fig = Figure(figsize=(1.5 * cols + 0.3, 6.0), layout="constrained", dpi=dpi)
    top, bottom = fig.subfigures(2, 1, height_ratios=(1.0, 1.9))

    ax_prompt, ax_tok, ax_text = top.subplots(1, 3, width_ratios=(1.0, 1.2, 3.2))
    ax_prompt.set_axis_off()
    ax_prompt.text(0.5, 0.5, f"“{prompt}”" if prompt else "“” (empty:\nunconditional)", ha="center",
                   va="center", fontsize=9, wrap=True, bbox=dict(boxstyle="round", fc="0.95", ec="0.6"))
    ax_prompt.set_title("Prompt (Eingabe)", fontsize=8)

    ax_tok.set_axis_off()
    kept = ids[mask]
    names = list(pieces)[: len(kept)] if pieces is not None else None
    lines = [f"{i:>4}  {p!r}" for i, p in zip(kept, names)] if names else [f"{i:>4}" for i in kept]
    ax_tok.text(0.02, 0.95, "\n".join(lines[:12] + (["  ..."] if len(lines) > 12 else []))
                or "(all masked out:\nthe null condition)", ha="left", va="top", family="monospace", fontsize=6.5,
                transform=ax_tok.transAxes)
    ax_tok.set_title(f"Tokenizer: {len(kept)} tokens\n(Token-IDs)", fontsize=8)

    states = np.asarray(stages.text_states[index])
    shown = states[mask] if mask.any() else np.zeros_like(states[:1])
    lim = float(np.max(np.abs(shown))) or 1.0
    im = ax_text.imshow(shown, cmap="RdBu_r", vmin=-lim, vmax=lim, aspect="auto", interpolation="nearest")
    ax_text.set_yticks(range(len(shown)))
    ax_text.set_yticklabels([repr(p) for p in names] if names else [str(i) for i in kept] or ["null"], fontsize=6)
    ax_text.set_xlabel(f"feature (D = {states.shape[-1]})", fontsize=7)
    ax_text.tick_params(axis="x", labelsize=6)
    ax_text.set_title("Text-Encoder (CLIP): text states [L × D], the condition (Bedingung);\n"
                      "the U-Net reads them through cross-attention at every step", fontsize=8)
    top.colorbar(im, ax=ax_text, shrink=0.8)
    _arrow(fig, ax_prompt, ax_tok)
    _arrow(fig, ax_tok, ax_text)

    axes = bottom.subplots(2, cols)
    _latent(axes[0, 0], stages.x_T[index], "x_T: verrauschtes Latent\n(noise, 7×7×4)")
    for j, i in enumerate(picks):
        t, t_next = int(stages.timesteps[i]), (int(stages.timesteps[i + 1]) if i + 1 < n else 0)
        _latent(axes[0, j + 1], stages.latents[i + 1][index], f"after step {i + 1}/{n}\nt: {t} → {t_next}")
        _latent(axes[1, j + 1], stages.noise_estimates[i][index], f"ε̂ at t = {t}")
        _arrow(fig, axes[1, j + 1], axes[0, j + 1], up=True)
    _latent(axes[0, -2], stages.latent[index], f"final latent z_0\n(after {n} steps)")
    _image(axes[0, -1], stages.images[index], "VAE-Decoder:\nlatent → 28×28 pixels")
    for a, b in zip(axes[0, :-1], axes[0, 1:]):
        _arrow(fig, a, b)
    for ax in (axes[1, 0], axes[1, -2], axes[1, -1]):
        ax.set_axis_off()
    axes[1, 0].text(0.0, 0.5, "U-Net sagt Rauschen vorher:\nthe noise estimate ε̂ in x_t\n(guided), "
                    "from which\nthe sampler computes\nthe next latent", fontsize=7, va="center")
    axes[1, -2].text(0.0, 0.5, "the last step jumps\nto clean data (ᾱ = 1):\nz_0 is the last\nx̂0 estimate",
                     fontsize=7, va="center")
    bottom.suptitle(f"Sampler (Entrauschen): {n} steps from noise to a clean latent", fontsize=9)
    fig.suptitle("From prompt to image (Vom Prompt zum Bild): text → condition; noise → latent → pixels",
                 fontsize=10)
    return fig


def denoising_film_strip(stages: Stages, steps: Sequence[int] | None = None, decode: Decode | None = None, *,
                         index: int = 0, panels: int = 6, dpi: float | None = None) -> Figure:
    """Columns: sampling steps ``steps`` (indices into ``stages.timesteps``; None: ``panels`` evenly spaced)
    and the result. Rows: the latent's channels at that step and, with ``decode``, the decoded x0 estimate."""
    n = len(stages.timesteps)
    steps = step_picks(n, panels) if steps is None else [int(s) for s in steps]
    if any(not 0 <= s < n for s in steps):
        raise ValueError(f"steps must be in 0..{n - 1} (the sampling steps), got {list(steps)}")
    z = np.asarray(stages.latents)[:, index]  # [S + 1, h, w, c]
    lim = _scale(z)
    decoded = (np.asarray(decode(np.asarray(stages.x0_estimates)[steps, index])) if decode is not None else None)
    rows = 2 if decode is not None else 1
    fig = Figure(figsize=(1.3 * (len(steps) + 1) + 0.3, 1.45 * rows + 0.6), layout="constrained", dpi=dpi)
    axes = np.atleast_2d(fig.subplots(rows, len(steps) + 1)).reshape(rows, -1)
    for j, s in enumerate(steps):
        _latent(axes[0, j], z[s], f"t = {int(stages.timesteps[s])}\n(step {s + 1}/{n})", lim)
        if decoded is not None:
            _image(axes[1, j], decoded[j], "decoded x̂0")
    _latent(axes[0, -1], z[-1], "result z_0", lim)
    if decoded is not None:
        _image(axes[1, -1], stages.images[index], "image")
        axes[1, 0].set_ylabel("VAE-Decoder(x̂0)", fontsize=7)
    axes[0, 0].set_ylabel("latent x_t (4 ch.)", fontsize=7)
    prompt = stages.prompts[index]
    fig.suptitle(f"Entrauschen (denoising) of “{prompt}”: the latent and the U-Net's clean estimate", fontsize=9)
    return fig


def denoising_animation(stages: Stages, path: str | Path, decode: Decode, *, index: int = 0, fps: int = 8,
                        hold: int = 6, dpi: float = 80) -> Path:
    """Write a GIF (PillowWriter): one frame per sampling step, the latent x_t beside the decoded x0 estimate,
    then ``hold`` frames of the result, with the run's note (:mod:`genlab.figures.notes`). Returns the path."""
    from matplotlib.animation import FuncAnimation, PillowWriter

    n = len(stages.timesteps)
    z = np.asarray(stages.latents)[:, index]  # [S + 1, h, w, c]
    decoded = np.asarray(decode(np.asarray(stages.x0_estimates)[:, index]))  # [S, 28, 28, 1]
    lim = _scale(z)
    fig = Figure(figsize=(3.6, 2.2), layout="constrained")
    ax_z, ax_x = fig.subplots(1, 2)
    add_note(fig)

    def draw(i: int):
        s = min(i, n)
        ax_z.clear()
        ax_x.clear()
        if s < n:
            _latent(ax_z, z[s], f"latent x_t, t = {int(stages.timesteps[s])}", lim)
            _image(ax_x, decoded[s], f"decoded x̂0 (step {s + 1}/{n})")
        else:
            _latent(ax_z, z[-1], "final latent z_0", lim)
            _image(ax_x, stages.images[index], "image (VAE-Decoder)")
        fig.suptitle(f"“{stages.prompts[index]}”", fontsize=8)
        return ()

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    FuncAnimation(fig, draw, frames=n + hold, blit=False).save(path, writer=PillowWriter(fps=fps), dpi=dpi)
    return path


def guidance_grid(images_by_w: dict[float, np.ndarray], prompts: Sequence[str], *, dpi: float | None = None) -> Figure:
    """Rows: ``prompts``; columns: guidance values w. ``images_by_w[w]``: ``[P, H, W, 1]`` (one image per prompt)
    or ``[P, k, H, W, 1]`` (k images per prompt, tiled in a row), P = ``len(prompts)``."""
    ws = list(images_by_w)
    if not ws:
        raise ValueError("images_by_w is empty: pass {w: images}")
    p = len(prompts)
    arrays = {w: np.asarray(x) for w, x in images_by_w.items()}
    for w, x in arrays.items():
        if x.ndim == 4:
            arrays[w] = x[:, None]
        if arrays[w].ndim != 5 or arrays[w].shape[0] != p:
            raise ValueError(f"images_by_w[{w}] has shape {x.shape}: expected [P, H, W, C] or [P, k, H, W, C] "
                             f"with P = {p} prompts")
    k = arrays[ws[0]].shape[1]
    fig = Figure(figsize=(len(ws) * (0.5 * k + 0.2) + 1.6, p * 0.62 + 0.7), layout="constrained", dpi=dpi)
    axes = np.atleast_2d(fig.subplots(p, len(ws))).reshape(p, len(ws))
    for c, w in enumerate(ws):
        for r in range(p):
            ax = axes[r, c]
            ax.imshow(tile(arrays[w][r], cols=k), cmap="gray", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(f"w = {w:g}" + (" (unguided)" if float(w) == 1.0 else ""), fontsize=8)
            if c == 0:
                ax.set_ylabel(prompts[r] or "(empty)", fontsize=7, rotation=0, ha="right", va="center")
    fig.suptitle("Classifier-free guidance ε = ε_null + w (ε_cond − ε_null): larger w follows the prompt more "
                 "closely, with less variety", fontsize=9)
    return fig
