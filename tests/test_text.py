"""The BPE tokenizer: round trips every caption, splits unseen words into known pieces, pads and masks,
cuts with a warning, is deterministic, and rejects what is not text."""

from __future__ import annotations

import json

import numpy as np
import pytest

from genlab.data.captions import NAMES, caption_corpus
from genlab.text.tokenizer import END, PAD, START, load_tokenizer, tokenizer_path, train_tokenizer


@pytest.fixture(scope="module")
def tok():
    return load_tokenizer()


def test_the_shipped_tokenizer_loads_offline_with_its_specials(tok):
    assert tokenizer_path().is_file()
    assert (tok.pad_id, tok.start_id, tok.end_id) == (0, 1, 2)
    assert tok.context_length == 24 and 300 < tok.vocab_size <= 1024


@pytest.mark.parametrize("dataset", list(NAMES))
def test_round_trips_every_caption(tok, dataset):
    corpus = caption_corpus(dataset)
    ids, mask = tok.encode(corpus)
    assert ids.dtype == np.int32 and mask.dtype == bool and ids.shape == mask.shape == (len(corpus), 24)
    assert tok.decode(ids, mask) == corpus
    assert tok.decode(ids) == corpus  # padding is skipped even without the mask


def test_frequent_words_are_single_tokens(tok):
    assert tok.pieces("a dark sneaker") == [START, "a", " dark", " sneaker", END]


def test_unseen_words_split_into_known_pieces(tok):
    vocab = tok.backend.get_vocab()
    for word in ("sneakerz", "overcoatish", "zebra", "jäckchen"):
        ids, mask = tok.encode([f"a {word}"])
        body = ids[0][mask[0]][1:-1]
        assert len(body) >= 2 and all(0 <= i < tok.vocab_size for i in body)
        assert tok.decode(ids, mask) == [f"a {word}"]  # nothing dropped
        assert all(tok.backend.id_to_token(int(i)) in vocab for i in body)
    assert tok.pieces("a sneakerz")[2:-1] == [" sneaker", "z"]


def test_padding_and_mask(tok):
    ids, mask = tok.encode(["a coat", "", "a photo of a large dark coat"])
    lengths = mask.sum(axis=1)
    assert lengths.tolist() == [4, 2, 9]  # start + pieces + end
    for row, n in zip(range(3), lengths):
        assert mask[row, :n].all() and not mask[row, n:].any()  # True then False
        assert ids[row, 0] == tok.start_id and ids[row, n - 1] == tok.end_id
        assert (ids[row, n:] == tok.pad_id).all()
    assert tok.encode([])[0].shape == (0, 24)


def test_normalisation_is_clip_like(tok):
    a = tok.encode(["  A Dark   SNEAKER. "])[0]
    b = tok.encode(["a dark sneaker"])[0]
    np.testing.assert_array_equal(a, b)
    assert tok.decode(*tok.encode(["A T-Shirt, please!"])) == ["a t-shirt please"]


def test_truncation_warns_and_keeps_the_end_token(tok):
    long = " ".join(["sneaker"] * 40)
    with pytest.warns(UserWarning, match="cut"):
        ids, mask = tok.encode([long])
    assert mask.all() and ids[0, 0] == tok.start_id and ids[0, -1] == tok.end_id


def test_deterministic(tok, tmp_path):
    texts = ["a small dark coat", "trainers", "a picture of boots"]
    first = tok.encode(texts)
    np.testing.assert_array_equal(first[0], tok.encode(texts)[0])
    # retraining on the same corpus gives the same merges, so the shipped file can be rebuilt exactly
    corpus = [c for dataset in NAMES for c in caption_corpus(dataset)]
    path = train_tokenizer(corpus).save(tmp_path / "t.json")
    assert json.loads(path.read_text())["model"] == json.loads(tokenizer_path().read_text())["model"]


def test_bad_input_is_a_type_error(tok):
    with pytest.raises(TypeError, match=r"\[prompt\]"):
        tok.encode("a coat")
    with pytest.raises(TypeError, match="int"):
        tok.encode(["a coat", 3])
    with pytest.raises(TypeError):
        tok.pieces(None)
    assert PAD not in tok.decode(*tok.encode(["a coat"]))[0]
