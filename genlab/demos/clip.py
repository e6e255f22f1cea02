"""Writes the text-side figures (:mod:`genlab.figures.text`) for a trained CLIP, by default the shipped one.

    python -m genlab.experiments.clip --figures /tmp/clip_figs
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from genlab.data import captions as cap
from genlab.data.images import load_images
from genlab.demos.files import save_figures
from genlab.figures import text as text_figures
from genlab.pipelines.text import embed_images, embed_texts, load_clip

TOKEN_PROMPTS = ("a photo of a small dark sneaker", "a pair of sneakerz")  # the second has an unseen word
PROJECTED_CLASSES = (0, 1, 4, 7, 9)  # t-shirt, trouser, coat, sneaker, ankle boot


def _one_per_class(labels: np.ndarray) -> np.ndarray:
    return np.array([int(np.argmax(labels == c)) for c in range(10) if np.any(labels == c)])


def write_figures(out_dir: str | Path, model=None, tokenizer=None) -> list[Path]:
    """``clip_similarity.png``, ``clip_prompt_pca.png``, ``clip_tokens_<k>.png`` in ``out_dir``; returns them."""
    if model is None or tokenizer is None:
        tokenizer, model = load_clip()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    figures = {}

    test = load_images("fashion_mnist", "test")
    idx = _one_per_class(test.labels)
    images, labels = test.images[idx], test.labels[idx]
    said = cap.attribute_captions(labels, cap.tone_of(images, labels), cap.size_of(images, labels), seed=0,
                                  p_tone=1.0, p_size=1.0)
    sims = embed_images(model, images) @ embed_texts(model, tokenizer, said.texts).T  # [10, 10]
    figures["clip_similarity.png"] = text_figures.similarity_matrix(sims, images, said.texts)

    prompts, groups, arrows = [], [], []
    for g, c in enumerate(PROJECTED_CLASSES):
        for k, name in enumerate(cap.NAMES["fashion_mnist"][c]):
            base = len(prompts)
            prompts.append(name)
            groups.append(g)
            if k == 0:  # the first name of each class also with each attribute, joined by arrows
                for attr in ({"tone": 0}, {"tone": 1}, {"size": 0}, {"size": 1}):
                    arrows.append((base, len(prompts)))
                    prompts.append(cap.with_attributes(name, **attr))
                    groups.append(g)
    class_names = [cap.NAMES["fashion_mnist"][c][0] for c in PROJECTED_CLASSES]
    vecs = embed_texts(model, tokenizer, prompts)
    figures["clip_prompt_pca.png"] = text_figures.prompt_projection(vecs, prompts, np.array(groups), class_names,
                                                                   arrows)
    for k, prompt in enumerate(TOKEN_PROMPTS):
        ids, mask = tokenizer.encode([prompt])
        figures[f"clip_tokens_{k}.png"] = text_figures.prompt_tokens(tokenizer.pieces(prompt),
                                                                     ids[0][mask[0]].tolist(), prompt)
    return save_figures(figures, out_dir)
