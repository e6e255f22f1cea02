"""Captions: deterministic by seed, every class covered, never empty, never ambiguous between classes."""

from __future__ import annotations

import jax
import numpy as np
import pytest

from genlab.data.captions import NAMES, NULL_CAPTION, TEMPLATES, all_captions, caption_for, captions_for


def test_null_caption_is_the_empty_string():
    assert NULL_CAPTION == ""


@pytest.mark.parametrize("dataset", list(NAMES))
def test_every_class_has_several_names_and_no_shared_captions(dataset):
    seen: dict[str, int] = {}
    for label in range(10):
        captions = all_captions(label, dataset)
        assert len(NAMES[dataset][label]) >= 4 and len(captions) == len(NAMES[dataset][label]) * len(TEMPLATES)
        for caption in captions:
            assert caption.strip() and caption != NULL_CAPTION
            assert seen.setdefault(caption, label) == label, f"{caption!r} names two classes"


def test_fashion_names_are_real_words_for_the_class():
    assert "trainers" in NAMES["fashion_mnist"][7] and "an ankle boot" in NAMES["fashion_mnist"][9]


def test_captions_deterministic_by_seed():
    labels = np.arange(100) % 10
    assert captions_for(labels, seed=3) == captions_for(labels, seed=3)
    assert captions_for(labels, seed=3) != captions_for(labels, seed=4)
    assert caption_for(5, 11) == caption_for(5, np.random.default_rng(11))
    key = jax.random.key(0)
    assert caption_for(5, key) == caption_for(5, key)


def test_captions_match_their_labels_and_vary():
    labels = np.repeat(np.arange(10), 50)
    captions = captions_for(labels, seed=0)
    for label, caption in zip(labels, captions):
        assert caption in all_captions(int(label)), (label, caption)
    for label in range(10):  # 50 draws per class use several different captions
        assert len({c for lab, c in zip(labels, captions) if lab == label}) >= 10


def test_bad_label_or_dataset():
    with pytest.raises(ValueError, match="out of range"):
        caption_for(10, 0)
    with pytest.raises(ValueError, match="fashion_mnist"):
        caption_for(0, 0, dataset="imagenet")
