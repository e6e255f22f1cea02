"""Figures of the text side (``genlab.experiments.clip``): what CLIP sees in a batch, where prompts lie,
and how a prompt becomes tokens. Each function takes arrays and returns a ``Figure``."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

_COLORS = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown", "tab:pink", "tab:gray",
           "tab:olive", "tab:cyan")


def similarity_matrix(sims: np.ndarray, images: np.ndarray, captions: list[str], *, dpi: float | None = None) -> Figure:
    """Cosine similarities ``sims: [N, M]`` of ``images: [N, H, W, 1]`` (rows, in [-1, 1]) and ``captions``
    (M columns); each row's best caption is marked. A trained CLIP puts the bright cells on true captions."""
    n, m = sims.shape
    fig = Figure(figsize=(1.2 + 0.5 * m, 1.4 + 0.45 * n), layout="constrained", dpi=dpi)
    grid = fig.add_gridspec(1, 2, width_ratios=(0.6, m))
    thumbs = fig.add_subplot(grid[0])
    thumbs.imshow(np.concatenate([(np.clip(x[..., 0], -1, 1) + 1) / 2 for x in images]), cmap="gray", vmin=0, vmax=1,
                  aspect="auto")
    thumbs.set_axis_off()
    ax = fig.add_subplot(grid[1])
    im = ax.imshow(sims, cmap="viridis", aspect="auto")
    ax.scatter(np.argmax(sims, axis=1), np.arange(n), marker="o", facecolors="none", edgecolors="white", s=80)
    ax.set_xticks(range(m), captions, rotation=60, ha="right", fontsize=7)
    ax.set_yticks([])
    fig.colorbar(im, ax=ax, shrink=0.6, label="cosine similarity")
    ax.set_title("image-text similarity (circle: each image's best caption)", fontsize=9)
    return fig


def pca_2d(vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``vectors: [N, E]`` -> ``(points [N, 2], explained [2])``: the two leading principal components."""
    centered = vectors - vectors.mean(axis=0, keepdims=True)
    _, s, vt = np.linalg.svd(centered, full_matrices=False)
    var = s**2 / max(np.sum(s**2), 1e-12)
    return centered @ vt[:2].T, var[:2]


def prompt_projection(vectors: np.ndarray, prompts: list[str], groups: np.ndarray, group_names: list[str],
                      arrows: list[tuple[int, int]] = (), labelled: list[int] | None = None, *,
                      dpi: float | None = None) -> Figure:
    """2D PCA of prompt vectors ``[N, E]``, coloured by ``groups: [N]`` (e.g. class). ``arrows``: pairs
    ``(i, j)`` drawn from prompt i to prompt j (e.g. "a coat" -> "a dark coat": an attribute as a
    direction); ``labelled``: indices whose text is written beside the point (None: all)."""
    points, var = pca_2d(np.asarray(vectors, np.float64))
    fig = Figure(figsize=(7.5, 6), layout="constrained", dpi=dpi)
    ax = fig.add_subplot()
    for g, name in enumerate(group_names):
        sel = np.asarray(groups) == g
        ax.scatter(points[sel, 0], points[sel, 1], s=18, color=_COLORS[g % len(_COLORS)], label=name)
    for i, j in arrows:
        ax.annotate("", xy=points[j], xytext=points[i], arrowprops={"arrowstyle": "->", "color": "0.3", "lw": 0.8})
    for i in range(len(prompts)) if labelled is None else labelled:
        ax.annotate(prompts[i], points[i], fontsize=6, xytext=(2, 2), textcoords="offset points")
    ax.set_xlabel(f"PC 1 ({var[0]:.0%} of the variance)")
    ax.set_ylabel(f"PC 2 ({var[1]:.0%})")
    ax.legend(fontsize=7, markerscale=1.2)
    ax.set_title("prompt embeddings (PCA): synonyms of a class together, attributes as arrows", fontsize=9)
    return fig


def prompt_tokens(pieces: list[str], ids: list[int], prompt: str | None = None, *, dpi: float | None = None) -> Figure:
    """One prompt as its tokens: a box per piece (spaces shown as ``␣``) with its id beneath."""
    fig = Figure(figsize=(max(3.0, 0.95 * len(pieces)), 1.3), layout="constrained", dpi=dpi)
    ax = fig.add_subplot()
    for k, (piece, i) in enumerate(zip(pieces, ids)):
        special = piece.startswith("<|")
        text = piece.replace("<|startoftext|>", "START").replace("<|endoftext|>", "END").replace(" ", "␣")
        ax.text(k, 0.3, text, ha="center", va="center", fontsize=9, family="monospace",
                bbox={"boxstyle": "round", "fc": "0.85" if special else "lightyellow", "ec": "0.4"})
        ax.text(k, -0.35, str(i), ha="center", va="center", fontsize=7, color="0.35")
    ax.set_xlim(-0.6, len(pieces) - 0.4)
    ax.set_ylim(-0.7, 0.8)
    ax.set_axis_off()
    ax.set_title(f"{prompt!r} as {len(pieces)} tokens (ids beneath)" if prompt is not None else "tokens",
                 fontsize=9)
    return fig
