"""Captions for labelled images, so that a text encoder has real (if small) language to learn.

Each class has several names and synonyms ("a sneaker", "trainers", "a running shoe"), placed in
templates ("a photo of {}", "a picture of {}", ...). No name is shared between two classes, so a
caption always identifies its class. ``NULL_CAPTION = ""`` is the "no condition" input of
classifier-free guidance and is never produced for a class.

Captions may also say two **attributes measured from the image** (so they are true, and the same
rules judge generated images; Fashion-MNIST only):

- tone, ``TONES = ("dark", "light")``: :func:`tone_of` (mean intensity of the garment's pixels);
- size, ``SIZES = ("small", "large")``: :func:`size_of` (the garment's area);

each split at the per-class median of the training images. A caption says each attribute with some
probability ("a dark sneaker", "a photo of a large coat", "trainers"). The class-attribute pairs in
:data:`HELD_OUT` ("dark sandal", "small coat", ...) are never said in a training caption, and the
templates in :data:`HELD_OUT_TEMPLATES` are not used for training: both test composition.

    captions_for(labels, seed=0)                      # class only, every template (unchanged)
    tone, size = tone_of(images, labels), size_of(images, labels)   # [N] 0/1 each
    attribute_captions(labels, tone, size, seed=0)    # Captions(texts, tone_said, size_said)
"""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np

NULL_CAPTION = ""

TEMPLATES: tuple[str, ...] = (
    "{}",
    "a photo of {}",
    "a picture of {}",
    "an image of {}",
    "a black and white photo of {}",
    "a product photo of {}",
    "a small picture of {}",
)
# Never in a training caption; zero-shot accuracy is measured with these as well as with the others.
HELD_OUT_TEMPLATES: tuple[str, ...] = ("a picture of {}", "a product photo of {}")
TRAIN_TEMPLATES: tuple[str, ...] = tuple(t for t in TEMPLATES if t not in HELD_OUT_TEMPLATES)

# Names per class, in label order. Each is a noun phrase that fits every template.
NAMES: dict[str, tuple[tuple[str, ...], ...]] = {
    "fashion_mnist": (
        ("a t-shirt", "a tee", "a top", "a tank top", "a short-sleeved tee"),  # 0 T-shirt/top
        ("trousers", "a pair of trousers", "pants", "jeans", "slacks"),  # 1 Trouser
        ("a pullover", "a sweater", "a jumper", "a knitted sweater", "a sweatshirt"),  # 2 Pullover
        ("a dress", "a summer dress", "a gown", "a frock", "a long dress"),  # 3 Dress
        ("a coat", "a jacket", "an overcoat", "a winter coat", "a parka"),  # 4 Coat
        ("a sandal", "sandals", "a flip-flop", "a strappy sandal", "a summer sandal"),  # 5 Sandal
        ("a shirt", "a button-up shirt", "a blouse", "a collared shirt", "a long-sleeved shirt"),  # 6 Shirt
        ("a sneaker", "sneakers", "a running shoe", "trainers", "a trainer"),  # 7 Sneaker
        ("a bag", "a handbag", "a purse", "a tote bag", "a shoulder bag"),  # 8 Bag
        ("an ankle boot", "a boot", "boots", "a short boot", "a leather boot"),  # 9 Ankle boot
    ),
    "mnist": tuple(
        (f"the digit {word}", f"the number {word}", f"a handwritten {digit}", f"the numeral {digit}", word)
        for digit, word in enumerate(
            ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
        )
    ),
    "cifar10": (
        ("an airplane", "a plane", "an aircraft", "a jet"),
        ("a car", "an automobile", "a sedan", "a passenger car"),
        ("a bird", "a small bird", "a songbird", "a sparrow"),
        ("a cat", "a kitten", "a house cat", "a tabby cat"),
        ("a deer", "a fawn", "a wild deer", "a stag"),
        ("a dog", "a puppy", "a pet dog", "a hound"),
        ("a frog", "a toad", "a green frog", "a tree frog"),
        ("a horse", "a pony", "a stallion", "a brown horse"),
        ("a ship", "a boat", "a cargo ship", "a ferry"),
        ("a truck", "a lorry", "a fire truck", "a dump truck"),
    ),
}

# --- attributes measured from the image ---------------------------------------------------------

TONES: tuple[str, str] = ("dark", "light")  # tone_of: 0 = dark, 1 = light
SIZES: tuple[str, str] = ("small", "large")  # size_of: 0 = small, 1 = large
GARMENT_LEVEL = -0.9  # a pixel in [-1, 1] above this (uint8 > 12.75) belongs to the garment
# Per-class medians of garment_tone / garment_area over the embedded 10,000-image Fashion-MNIST train
# subset (1,000 per class; the machine that set them had no full 60k set), rounded to 4 decimals:
#   python -c "from genlab.data.captions import attribute_thresholds as a; from genlab.data.images import
#              load_images as l; d = l('fashion_mnist', 'train', source='embedded'); print(a(d.images, d.labels))"
# A value above the threshold is light (large); at or below it, dark (small).
TONE_THRESHOLDS: dict[str, tuple[float, ...]] = {
    "fashion_mnist": (0.6381, 0.679, 0.6394, 0.6841, 0.7142, 0.4883, 0.5844, 0.5545, 0.6661, 0.6891),
}
SIZE_THRESHOLDS: dict[str, tuple[float, ...]] = {
    "fashion_mnist": (0.5529, 0.3253, 0.6256, 0.4018, 0.5829, 0.264, 0.6071, 0.2997, 0.5529, 0.4401),
}
# (label, attribute word) pairs never said in a training caption: a dark sandal's caption may say it is
# small or large, never that it is dark. Zero-shot tone/size on these classes tests composition.
HELD_OUT: frozenset[tuple[int, str]] = frozenset({(5, "dark"), (4, "small"), (8, "light"), (1, "large")})


def _gray(images) -> np.ndarray:
    x = np.asarray(images, np.float32)
    if x.ndim != 4:
        raise ValueError(f"images must be [N, H, W, C] in [-1, 1], got shape {x.shape}")
    return x.mean(axis=-1)  # [N, H, W]


def garment_area(images) -> np.ndarray:
    """Fraction of pixels above ``GARMENT_LEVEL``: ``images: [N, H, W, C]`` in [-1, 1] -> ``[N]`` in [0, 1]."""
    return (_gray(images) > GARMENT_LEVEL).mean(axis=(1, 2))


def garment_tone(images) -> np.ndarray:
    """Mean intensity in [0, 1] of the garment's pixels (0 for an image without any): ``[N, H, W, C] -> [N]``."""
    x = _gray(images)
    mask = x > GARMENT_LEVEL
    total = ((x + 1.0) / 2.0 * mask).sum(axis=(1, 2))
    return total / np.maximum(mask.sum(axis=(1, 2)), 1)


def attribute_thresholds(images, labels, num_classes: int = 10) -> dict[str, tuple[float, ...]]:
    """Per-class medians ``{"tone": (...), "size": (...)}`` of :func:`garment_tone` and :func:`garment_area`."""
    labels = np.asarray(labels)
    tone, area = garment_tone(images), garment_area(images)
    med = lambda v: tuple(round(float(np.median(v[labels == c])), 4) for c in range(num_classes))  # noqa: E731
    return {"tone": med(tone), "size": med(area)}


def _split(values: np.ndarray, labels, table: dict, dataset: str) -> np.ndarray:
    if dataset not in table:
        raise ValueError(f"no attribute thresholds for {dataset!r}: only {', '.join(table)}")
    labels = np.asarray(labels).reshape(-1)
    if labels.shape[0] != values.shape[0]:
        raise ValueError(f"{values.shape[0]} images but {labels.shape[0]} labels: they must match one to one")
    return (values > np.asarray(table[dataset])[labels]).astype(np.int32)


def tone_of(images, labels, dataset: str = "fashion_mnist") -> np.ndarray:
    """0 (dark) or 1 (light) per image: ``images: [N, H, W, C]`` in [-1, 1], ``labels: [N]`` -> ``[N]`` int32.

    Light when the garment's mean intensity lies above its class's training median (``TONE_THRESHOLDS``).
    For generated images pass the class they were asked for.
    """
    return _split(garment_tone(images), labels, TONE_THRESHOLDS, dataset)


def size_of(images, labels, dataset: str = "fashion_mnist") -> np.ndarray:
    """0 (small) or 1 (large) per image: the garment's area against its class's training median; ``[N]`` int32."""
    return _split(garment_area(images), labels, SIZE_THRESHOLDS, dataset)


# --- captions -----------------------------------------------------------------------------------


def _names(label: int, dataset: str) -> tuple[str, ...]:
    if dataset not in NAMES:
        raise ValueError(f"no captions for dataset {dataset!r}: choose one of {', '.join(NAMES)}")
    classes = NAMES[dataset]
    if not 0 <= int(label) < len(classes):
        raise ValueError(f"label {label} is out of range for {dataset} (0..{len(classes) - 1})")
    return classes[int(label)]


def _as_generator(rng) -> np.random.Generator:
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, (int, np.integer)):
        return np.random.default_rng(int(rng))
    import jax  # a JAX PRNG key: derive a NumPy seed from it

    return np.random.default_rng(np.asarray(jax.random.bits(rng, (4,), np.uint32)))


def all_captions(label: int, dataset: str = "fashion_mnist") -> list[str]:
    """Every caption :func:`caption_for` can return for ``label`` (templates x names)."""
    return [t.format(name) for name in _names(label, dataset) for t in TEMPLATES]


def caption_for(label: int, rng, dataset: str = "fashion_mnist") -> str:
    """One caption for ``label``: a random name in a random template (no attributes).

    ``rng``: a ``np.random.Generator`` (advanced in place), an int seed, or a JAX PRNG key.
    """
    gen = _as_generator(rng)
    names = _names(label, dataset)
    name = names[gen.integers(len(names))]
    return TEMPLATES[gen.integers(len(TEMPLATES))].format(name)


def captions_for(labels, seed: int, dataset: str = "fashion_mnist") -> list[str]:
    """Captions for ``labels: [N]``, deterministic in ``seed`` (same labels and seed -> same list)."""
    gen = np.random.default_rng(seed)
    return [caption_for(int(label), gen, dataset) for label in np.asarray(labels).reshape(-1)]


def with_attributes(name: str, tone: int | None = None, size: int | None = None) -> str:
    """``name`` with the attribute words after its article, size first: ("a coat", 0, 1) -> "a large dark coat"."""
    words = " ".join(w for w in (None if size is None else SIZES[size], None if tone is None else TONES[tone]) if w)
    if not words:
        return name
    for article in ("a ", "an "):
        if name.startswith(article):
            return f"{'an' if words[0] in 'aeiou' else 'a'} {words} {name[len(article):]}"
    return f"{words} {name}"


def prompts(label: int, tone: int | None = None, size: int | None = None,
            templates: tuple[str, ...] = TRAIN_TEMPLATES, dataset: str = "fashion_mnist") -> list[str]:
    """Every name of ``label`` with the given attributes in every template (a zero-shot prompt ensemble)."""
    return [t.format(with_attributes(n, tone, size)) for n in _names(label, dataset) for t in templates]


def said_allowed(label: int, word: str) -> bool:
    """Whether a training caption may say ``word`` about class ``label`` (False for the pairs in HELD_OUT)."""
    return (int(label), word) not in HELD_OUT


@dataclasses.dataclass(frozen=True)
class Captions:
    """``texts``: N captions; ``tone_said``/``size_said``: ``[N]`` int32, the attribute a caption states
    (0/1) or -1 where it says nothing about it."""

    texts: list[str]
    tone_said: np.ndarray
    size_said: np.ndarray


def attribute_captions(labels, tones, sizes, seed, *, p_tone: float = 0.5, p_size: float = 0.5,
                       templates: tuple[str, ...] = TRAIN_TEMPLATES, held_out: bool = True,
                       dataset: str = "fashion_mnist") -> Captions:
    """One caption per image: a random name in a random template, saying its tone with probability
    ``p_tone`` and its size with probability ``p_size`` (never a pair in ``HELD_OUT`` when ``held_out``).

    ``labels``, ``tones``, ``sizes``: ``[N]`` (tones/sizes from :func:`tone_of`/:func:`size_of`).
    ``seed``: an int, a sequence of ints or a ``np.random.Generator``; same inputs and seed -> same captions.
    """
    gen = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    labels, tones, sizes = (np.asarray(a).reshape(-1) for a in (labels, tones, sizes))
    n = labels.shape[0]
    name_pick, template_pick = gen.random(n), gen.integers(len(templates), size=n)
    say_tone, say_size = gen.random(n) < p_tone, gen.random(n) < p_size
    texts, tone_said, size_said = [], np.full(n, -1, np.int32), np.full(n, -1, np.int32)
    for i, (label, tone, size) in enumerate(zip(labels.tolist(), tones.tolist(), sizes.tolist())):
        if say_tone[i] and not (held_out and not said_allowed(label, TONES[tone])):
            tone_said[i] = tone
        if say_size[i] and not (held_out and not said_allowed(label, SIZES[size])):
            size_said[i] = size
        names = _names(label, dataset)
        name = names[int(name_pick[i] * len(names))]
        phrase = with_attributes(name, tone if tone_said[i] >= 0 else None, size if size_said[i] >= 0 else None)
        texts.append(templates[template_pick[i]].format(phrase))
    return Captions(texts, tone_said, size_said)


def caption_corpus(dataset: str = "fashion_mnist") -> list[str]:
    """Every caption any function here can produce for ``dataset``: all templates x names x attributes."""
    options = (None, 0, 1)
    return [t.format(with_attributes(n, tone, size))
            for names in NAMES[dataset] for n in names for t in TEMPLATES
            for tone, size in itertools.product(options, options)]
