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


# --- attributes and attribute captions ------------------------------------------------------------

from genlab.data.captions import (  # noqa: E402
    HELD_OUT, HELD_OUT_TEMPLATES, SIZE_THRESHOLDS, SIZES, TONE_THRESHOLDS, TONES, TRAIN_TEMPLATES,
    attribute_captions, attribute_thresholds, caption_corpus, garment_area, garment_tone, prompts, size_of,
    tone_of, with_attributes,
)


def _garment(value: float, rows: int, cols: int) -> np.ndarray:
    """A black 28x28 image with a ``rows x cols`` block of intensity ``value`` in [0, 1]."""
    x = -np.ones((28, 28, 1), np.float32)
    x[2 : 2 + rows, 2 : 2 + cols] = 2 * value - 1
    return x


def test_garment_measures_on_constructed_images():
    images = np.stack([_garment(0.5, 10, 10), _garment(1.0, 14, 14), -np.ones((28, 28, 1), np.float32)])
    np.testing.assert_allclose(garment_area(images), [100 / 784, 196 / 784, 0.0])
    np.testing.assert_allclose(garment_tone(images), [0.5, 1.0, 0.0], atol=1e-6)


def test_tone_and_size_split_at_the_class_threshold():
    label = 7
    t, s = TONE_THRESHOLDS["fashion_mnist"][label], SIZE_THRESHOLDS["fashion_mnist"][label]
    side_small, side_large = int(np.sqrt(s * 784)) - 2, int(np.sqrt(s * 784)) + 2  # areas just below/above
    images = np.stack([_garment(t - 0.05, side_small, side_small), _garment(t + 0.05, side_large, side_large)])
    labels = np.array([label, label])
    assert tone_of(images, labels).tolist() == [0, 1]  # dark, light
    assert size_of(images, labels).tolist() == [0, 1]  # small, large
    # the same light image is dark for a class whose median is brighter
    bright = int(np.argmax(TONE_THRESHOLDS["fashion_mnist"]))
    assert TONE_THRESHOLDS["fashion_mnist"][bright] > t + 0.05
    assert tone_of(images[1:], [bright]).tolist() == [0]


def test_attribute_errors_are_clear():
    with pytest.raises(ValueError, match="match one to one"):
        tone_of(np.zeros((2, 28, 28, 1)), [0])
    with pytest.raises(ValueError, match="thresholds"):
        size_of(np.zeros((1, 28, 28, 1)), [0], dataset="mnist")
    with pytest.raises(ValueError, match="N, H, W, C"):
        garment_tone(np.zeros((28, 28)))


def test_thresholds_are_the_medians_of_the_embedded_train_split():
    from genlab.data.images import load_images

    data = load_images("fashion_mnist", "train", source="embedded")
    found = attribute_thresholds(data.images, data.labels)
    np.testing.assert_allclose(found["tone"], TONE_THRESHOLDS["fashion_mnist"], atol=1e-4)
    np.testing.assert_allclose(found["size"], SIZE_THRESHOLDS["fashion_mnist"], atol=1e-4)
    for label in range(10):  # so each attribute splits every class about in half
        sel = data.labels == label
        assert 0.45 < tone_of(data.images[sel], data.labels[sel]).mean() < 0.55


def test_with_attributes_places_words_after_the_article():
    assert with_attributes("a coat", tone=0, size=1) == "a large dark coat"
    assert with_attributes("an ankle boot", tone=1) == "a light ankle boot"
    assert with_attributes("trainers", size=0) == "small trainers"
    assert with_attributes("a coat") == "a coat"


def test_attribute_captions_say_only_true_attributes_and_never_held_out_pairs():
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(10), 200)
    tones, sizes = rng.integers(0, 2, labels.size), rng.integers(0, 2, labels.size)
    said = attribute_captions(labels, tones, sizes, seed=1)
    assert said.texts == attribute_captions(labels, tones, sizes, seed=1).texts  # deterministic
    assert said.texts != attribute_captions(labels, tones, sizes, seed=2).texts
    for i, text in enumerate(said.texts):
        words = text.replace("a small picture of ", "").split()  # the template's "small" is not about the item
        for c, word in HELD_OUT:
            assert not (c == labels[i] and word in words), (labels[i], text)
        assert [w for w in words if w in TONES] == ([TONES[tones[i]]] if said.tone_said[i] >= 0 else [])
        assert [w for w in words if w in SIZES] == ([SIZES[sizes[i]]] if said.size_said[i] >= 0 else [])
        assert said.tone_said[i] in (-1, tones[i]) and said.size_said[i] in (-1, sizes[i])
    # each attribute is said about half the time (p = 0.5) where allowed
    assert 0.4 < np.mean(said.tone_said >= 0) < 0.5 and 0.4 < np.mean(said.size_said >= 0) < 0.5


def test_held_out_pairs_and_templates_never_occur_in_training_captions():
    labels = np.repeat(np.arange(10), 300)
    said = attribute_captions(labels, np.tile([0, 1], 1500), np.repeat([0, 1] * 5, 300), seed=0, p_tone=1, p_size=1)
    assert set(TRAIN_TEMPLATES) | set(HELD_OUT_TEMPLATES) == set(TEMPLATES)
    assert not set(TRAIN_TEMPLATES) & set(HELD_OUT_TEMPLATES)
    held_prefixes = [t.format("") for t in HELD_OUT_TEMPLATES]
    for label, text in zip(labels, said.texts):
        assert not any(text.startswith(p) for p in held_prefixes), text
        words = text.replace("a small picture of ", "").split()
        assert not any(c == label and word in words for c, word in HELD_OUT), text
    # ...while the held-out pairs are reachable when asked for (evaluation prompts)
    assert "a photo of a dark sandal" in prompts(5, tone=0)


def test_corpus_holds_every_caption_and_prompt():
    corpus = set(caption_corpus())
    labels = np.repeat(np.arange(10), 30)
    said = attribute_captions(labels, labels % 2, (labels // 2) % 2, seed=0, p_tone=0.7, p_size=0.7)
    assert set(said.texts) <= corpus
    assert {c for label in range(10) for c in all_captions(label)} <= corpus
    assert set(prompts(3, size=1, templates=HELD_OUT_TEMPLATES)) <= corpus
