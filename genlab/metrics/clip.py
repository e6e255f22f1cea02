"""Zero-shot measurements of a CLIP model: does its text side say what the images are?

- :func:`zero_shot_classes`: an image's class is the prompt ensemble it is closest to (CLIP sec. 3.1.4:
  every name of a class in every template, vectors averaged and renormalised).
- :func:`zero_shot_attribute`: given the true class, pick tone (dark/light) or size (small/large) from
  the ensembles "a dark sneaker", "a photo of a dark sneaker", ... against the light ones.
- :func:`retrieval_recall`: text -> image and image -> text recall@k, where a hit is any retrieved item
  the caption truly describes (the same rule as the training targets, see
  :mod:`genlab.objectives.contrastive`): with 2,000 test images many captions are true of many images.

Image vectors come from :func:`genlab.pipelines.text.embed_images`; all functions take unit vectors.
"""

from __future__ import annotations

import numpy as np

from genlab.data.captions import TRAIN_TEMPLATES, prompts
from genlab.pipelines.text import class_vectors


def zero_shot_classes(model, tokenizer, image_vecs: np.ndarray, templates: tuple[str, ...] = TRAIN_TEMPLATES,
                      num_classes: int = 10) -> np.ndarray:
    """Predicted class ``[N]`` of ``image_vecs: [N, E]`` from prompt ensembles over ``templates``."""
    classes = class_vectors(model, tokenizer, [prompts(c, templates=templates) for c in range(num_classes)])
    return np.argmax(image_vecs @ classes.T, axis=1)


def zero_shot_attribute(model, tokenizer, image_vecs: np.ndarray, labels: np.ndarray, attribute: str,
                        templates: tuple[str, ...] = TRAIN_TEMPLATES, num_classes: int = 10) -> np.ndarray:
    """Predicted ``attribute`` ("tone" or "size") ``[N]`` in {0, 1} for images of the known ``labels: [N]``."""
    if attribute not in ("tone", "size"):
        raise ValueError(f"attribute must be 'tone' or 'size', got {attribute!r}")
    sets = [prompts(c, templates=templates, **{attribute: v}) for c in range(num_classes) for v in (0, 1)]
    vecs = class_vectors(model, tokenizer, sets).reshape(num_classes, 2, -1)  # [K, 2, E]
    sims = np.einsum("ne,nve->nv", image_vecs, vecs[np.asarray(labels)])  # [N, 2]
    return np.argmax(sims, axis=1)


def retrieval_recall(image_vecs: np.ndarray, text_vecs: np.ndarray, true: np.ndarray, ks=(1, 5)
                     ) -> dict[str, float]:
    """Recall@k both ways. ``image_vecs``, ``text_vecs``: ``[N, E]`` (caption i written for image i);
    ``true: [N, N]`` bool, caption j true of image i. Keys ``t2i_at_k``, ``i2t_at_k`` and their mean
    ``recall_at_k``."""
    sims = image_vecs @ text_vecs.T  # [N_img, N_txt]
    out = {}
    for k in ks:
        top_txt = np.argsort(-sims, axis=1)[:, :k]  # [N, k] captions per image
        top_img = np.argsort(-sims.T, axis=1)[:, :k]  # [N, k] images per caption
        i2t = float(np.mean(np.take_along_axis(true, top_txt, axis=1).any(axis=1)))
        t2i = float(np.mean(np.take_along_axis(true.T, top_img, axis=1).any(axis=1)))
        out.update({f"i2t_at_{k}": i2t, f"t2i_at_{k}": t2i, f"recall_at_{k}": (i2t + t2i) / 2})
    return out
