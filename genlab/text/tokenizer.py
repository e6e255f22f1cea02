"""A byte-pair-encoding tokenizer for captions, as CLIP has one (Radford et al. 2021; Sennrich et al. 2016).

BPE starts from the 256 bytes and merges the most frequent adjacent pair again and again, so frequent
words become one token and a word it never saw still splits into known pieces ("sneakerz" -> " sneaker"
+ "z"): byte-level pieces cover every string, nothing is dropped and there is no unknown token.

The tokenizer is trained on the caption corpus (:func:`genlab.data.captions.caption_corpus`) with the
``tokenizers`` library, ships as ``data/text/tokenizer.json`` and loads offline::

    tok = load_tokenizer()
    ids, mask = tok.encode(["a dark sneaker", "trousers"])   # [2, L] int32, [2, L] bool
    tok.decode(ids, mask)                                    # ["a dark sneaker", "trousers"]
    tok.pieces("a dark sneakerz")    # ["<|startoftext|>", "a", " dark", " sneaker", "z", "<|endoftext|>"]

Normalisation (CLIP-like): Unicode NFKC, lower case, punctuation other than hyphens and apostrophes
becomes a space, runs of whitespace become one space, ends stripped. Every sequence is
``<|startoftext|> pieces <|endoftext|>`` padded with ``<|pad|>`` to ``context_length``; a longer one
is cut (its end token kept, as CLIP does) with a warning. Rebuild the shipped file with
``python -m genlab.text.tokenizer``.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from genlab.shipped import shipped

PAD, START, END = "<|pad|>", "<|startoftext|>", "<|endoftext|>"  # ids 0, 1, 2
CONTEXT_LENGTH = 24  # the longest corpus caption has 15 tokens with start and end
VOCAB_SIZE = 1024  # an upper bound: the corpus runs out of merges before it
REGENERATE = "python -m genlab.text.tokenizer"


def _backend(vocab_size: int = VOCAB_SIZE):
    from tokenizers import Regex, decoders, models, normalizers, pre_tokenizers, processors
    from tokenizers import Tokenizer as HFTokenizer

    tok = HFTokenizer(models.BPE())
    tok.normalizer = normalizers.Sequence([
        normalizers.NFKC(), normalizers.Lowercase(),
        normalizers.Replace(Regex(r"[^\w\s'-]"), " "),  # punctuation -> space (keeps t-shirt, don't)
        normalizers.Replace(Regex(r"\s+"), " "), normalizers.Strip(),
    ])
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    return tok


def train_tokenizer(corpus: list[str], vocab_size: int = VOCAB_SIZE, context_length: int = CONTEXT_LENGTH
                    ) -> Tokenizer:
    """Learn BPE merges on ``corpus`` (byte-level alphabet, specials ``PAD, START, END`` = ids 0, 1, 2)."""
    from tokenizers import pre_tokenizers, processors, trainers

    tok = _backend(vocab_size)
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=1, show_progress=False,
                                  special_tokens=[PAD, START, END],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(sorted(set(corpus)), trainer)
    start, end = tok.token_to_id(START), tok.token_to_id(END)
    tok.post_processor = processors.TemplateProcessing(single=f"{START} $A {END}",
                                                       special_tokens=[(START, start), (END, end)])
    tok.enable_truncation(context_length)
    tok.enable_padding(length=context_length, pad_id=tok.token_to_id(PAD), pad_token=PAD)
    return Tokenizer(tok)


class Tokenizer:
    """Prompts <-> token ids. ``context_length``, ``vocab_size``, ``pad_id``, ``start_id``, ``end_id``."""

    def __init__(self, backend):
        self.backend = backend
        self.context_length = int(backend.truncation["max_length"])
        self.vocab_size = int(backend.get_vocab_size())
        self.pad_id, self.start_id, self.end_id = (int(backend.token_to_id(t)) for t in (PAD, START, END))

    def encode(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """``texts``: a list of N strings -> ``(ids [N, L] int32, mask [N, L] bool)``, L = ``context_length``.

        ``mask`` is True on the start token, the pieces and the end token, False on the padding.
        """
        if isinstance(texts, str) or not isinstance(texts, (list, tuple)):
            raise TypeError(f"encode takes a list of strings, got {type(texts).__name__}; "
                            "wrap a single prompt as [prompt]")
        bad = [type(t).__name__ for t in texts if not isinstance(t, str)]
        if bad:
            raise TypeError(f"encode takes a list of strings, but it holds {', '.join(sorted(set(bad)))}")
        if not texts:
            return np.zeros((0, self.context_length), np.int32), np.zeros((0, self.context_length), bool)
        encodings = self.backend.encode_batch(list(texts))
        cut = [t for t, e in zip(texts, encodings) if e.overflowing]
        if cut:
            warnings.warn(f"{len(cut)} prompt(s) longer than {self.context_length} tokens were cut "
                          f"(first: {cut[0][:60]!r})", stacklevel=2)
        ids = np.array([e.ids for e in encodings], np.int32)  # [N, L]
        mask = np.array([e.attention_mask for e in encodings], bool)  # [N, L]
        return ids, mask

    def decode(self, ids, mask=None) -> list[str]:
        """``ids: [N, L]`` (and optional ``mask: [N, L]``) -> N normalised strings, special tokens left out."""
        ids = np.asarray(ids)
        if ids.ndim != 2:
            raise ValueError(f"decode takes ids of shape [N, L], got {ids.shape}")
        keep = np.ones(ids.shape, bool) if mask is None else np.asarray(mask, bool)
        return [self.backend.decode([int(i) for i, k in zip(row, m) if k], skip_special_tokens=True)
                for row, m in zip(ids, keep)]

    def pieces(self, prompt: str) -> list[str]:
        """The tokens of one prompt as the text each stands for (spaces included), start and end tokens
        included and padding left out: ``"a dark sneaker"`` -> ``[START, "a", " dark", " sneaker", END]``."""
        if not isinstance(prompt, str):
            raise TypeError(f"pieces takes one string, got {type(prompt).__name__}")
        ids, mask = self.encode([prompt])
        return [self.backend.decode([int(i)], skip_special_tokens=False) for i in ids[0][mask[0]]]

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.backend.save(str(path))
        return path


def tokenizer_path() -> Path:
    return shipped("text", "tokenizer.json")


def load_tokenizer(path: str | Path | None = None) -> Tokenizer:
    """The shipped tokenizer (``data/text/tokenizer.json``), or the one at ``path``; reads no network."""
    from tokenizers import Tokenizer as HFTokenizer

    path = Path(path) if path is not None else tokenizer_path()
    if not path.is_file():
        raise FileNotFoundError(f"no tokenizer at {path}; build it with `{REGENERATE}`")
    return Tokenizer(HFTokenizer.from_file(str(path)))


def build_shipped() -> Path:
    """Train on every dataset's caption corpus and write ``data/text/tokenizer.json``."""
    from genlab.data.captions import NAMES, caption_corpus

    corpus = [c for dataset in NAMES for c in caption_corpus(dataset)]
    return train_tokenizer(corpus).save(tokenizer_path())


if __name__ == "__main__":
    print(f"wrote {build_shipped()}")
