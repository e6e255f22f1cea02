"""Captions for class labels, so that a text encoder has real (if small) language to learn.

Each class has several names and synonyms ("a sneaker", "trainers", "a running shoe"), placed in
templates ("a photo of {}", "a picture of {}", ...). No name is shared between two classes, so a
caption always identifies its class. ``NULL_CAPTION = ""`` is the "no condition" input of
classifier-free guidance and is never produced for a class.

    captions_for(labels, seed=0)          # list[str], the same list for the same seed
    caption_for(7, np.random.default_rng(0))  # e.g. "a picture of trainers"
"""

from __future__ import annotations

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
    """One caption for ``label``: a random name in a random template.

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
