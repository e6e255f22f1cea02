"""Text in, vectors out: the shipped tokenizer and CLIP text encoder, and embeddings of prompts and images.

    tokenizer, text_encoder = load_text_encoder()        # offline, from data/text and data/clip
    states, mask = encode_prompts(tokenizer, text_encoder, ["a dark sneaker"])  # [1, L, width], [1, L]
    tokenizer, clip = load_clip()                        # both towers (e.g. to score generated images)
    embed_texts(clip, tokenizer, prompts)                # [N, E] unit vectors
    embed_images(clip, images)                           # [N, E] unit vectors

The weights are written by ``python -m genlab.experiments.clip --ship`` (see genlab.experiments.clip).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from flax import nnx

from genlab.models.clip import CLIP, CLIPConfig, TextEncoder
from genlab.objectives.contrastive import normalize
from genlab.shipped import shipped
from genlab.text.tokenizer import Tokenizer, load_tokenizer
from genlab.train.batched import batched_apply
from genlab.train.checkpoint import load_weights, read_info

WEIGHTS_NAME = "clip"
REGENERATE = "python -m genlab.experiments.clip --ship"


def weights_dir() -> Path:
    return shipped("clip")


def load_clip(folder: str | Path | None = None) -> tuple[Tokenizer, CLIP]:
    """The shipped tokenizer and trained CLIP (``data/clip/clip.npz`` + ``clip.json``)."""
    folder = Path(folder) if folder is not None else weights_dir()
    info = read_info(folder, WEIGHTS_NAME, REGENERATE)
    model = CLIP(CLIPConfig.from_dict(info["config"]), rngs=nnx.Rngs(0))
    load_weights(model, folder, WEIGHTS_NAME, REGENERATE)
    return load_tokenizer(), model


def load_text_encoder(folder: str | Path | None = None) -> tuple[Tokenizer, TextEncoder]:
    """The shipped tokenizer and the text tower of the shipped CLIP (the condition of text-to-image)."""
    tokenizer, model = load_clip(folder)
    return tokenizer, model.text


@nnx.jit
def _text_states(text_encoder, ids, mask):
    out = text_encoder(ids, mask)
    return out.states, normalize(out.pooled)


@nnx.jit
def _image_vectors(model, images):
    return normalize(model.image(images))


def text_states(text_encoder: TextEncoder, ids, mask) -> np.ndarray:
    """Per-token states ``[N, L, width]`` float32 of token ``ids: [N, L]`` with ``mask: [N, L]``."""
    return np.asarray(_text_states(text_encoder, ids, mask)[0])


def encode_prompts(tokenizer: Tokenizer, text_encoder: TextEncoder, prompts: list[str]
                   ) -> tuple[np.ndarray, np.ndarray]:
    """``prompts``: N strings -> ``(states [N, L, width] float32, mask [N, L] bool)``."""
    ids, mask = tokenizer.encode(prompts)
    return text_states(text_encoder, ids, mask), mask


def embed_texts(model: CLIP, tokenizer: Tokenizer, texts: list[str], chunk: int = 512) -> np.ndarray:
    """Unit vectors ``[N, E]`` of ``texts`` (the pooled, projected, normalised end-token states)."""
    ids, mask = tokenizer.encode(list(texts))
    return batched_apply(lambda i, m: _text_states(model.text, i, m)[1], ids, mask, chunk=chunk, pad=True)


def embed_images(model: CLIP, images, chunk: int = 500) -> np.ndarray:
    """Unit vectors ``[N, E]`` of ``images: [N, H, W, C]`` in [-1, 1]."""
    return batched_apply(lambda x: _image_vectors(model, x), np.asarray(images, np.float32), chunk=chunk, pad=True)


def class_vectors(model: CLIP, tokenizer: Tokenizer, prompt_sets: list[list[str]]) -> np.ndarray:
    """One unit vector per prompt set: the normalised mean of its prompts' vectors (a prompt ensemble,
    CLIP sec. 3.1.4). ``prompt_sets``: K lists of strings -> ``[K, E]``."""
    flat = [p for prompts in prompt_sets for p in prompts]
    vecs = embed_texts(model, tokenizer, flat)
    out, start = [], 0
    for prompts in prompt_sets:
        out.append(vecs[start:start + len(prompts)].mean(axis=0))
        start += len(prompts)
    out = np.stack(out)  # [K, E]
    return out / np.linalg.norm(out, axis=1, keepdims=True)
