"""CLIP: encoder shapes and masks (padding changes nothing), the contrastive loss by hand, retrieval
recall, the experiment at tiny size and the shipped weights."""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from genlab.metrics.clip import retrieval_recall
from genlab.models.clip import CLIP, CLIPConfig, ImageEncoderConfig, TextEncoderConfig
from genlab.objectives.contrastive import MAX_LOGIT_SCALE, contrastive_loss, describes
from genlab.text.tokenizer import load_tokenizer

TINY = CLIPConfig(text=TextEncoderConfig(width=16, depth=2, num_heads=2),
                  image=ImageEncoderConfig(channels=(4, 8), hidden=16), embed_dim=8)
PROMPTS = ["a coat", "a photo of a large dark coat", "trainers", ""]


@nnx.jit
def _text(model, ids, mask):
    return model.text(ids, mask)  # jitted: one compile instead of dozens of eager ops


@pytest.fixture(scope="module")
def model():
    return CLIP(TINY, rngs=nnx.Rngs(0))


@pytest.fixture(scope="module")
def tok():
    return load_tokenizer()


def test_shapes(model, tok):
    ids, mask = tok.encode(PROMPTS)
    out = _text(model, ids, mask)
    assert out.states.shape == (4, 24, 16) and out.pooled.shape == (4, 8)
    assert model.image(jnp.zeros((3, 28, 28, 1))).shape == (3, 8)
    assert float(model.logit_scale[...]) == pytest.approx(math.log(1 / 0.07))


def test_padding_changes_nothing(model, tok):
    ids, mask = tok.encode(PROMPTS)
    full = _text(model, ids, mask)
    short = _text(model, ids[:, :12], mask[:, :12])  # less padding
    noisy_ids = np.where(mask, ids, np.random.default_rng(0).integers(3, 300, ids.shape))  # junk in the padding
    noisy = _text(model, noisy_ids, mask)
    for other in (short, noisy):
        np.testing.assert_allclose(other.pooled, full.pooled, atol=1e-5)
    for row in range(len(PROMPTS)):
        n = int(mask[row].sum())
        np.testing.assert_allclose(short.states[row, :n], full.states[row, :n], atol=1e-5)
        np.testing.assert_allclose(noisy.states[row, :n], full.states[row, :n], atol=1e-5)


def test_attention_is_causal_and_pools_at_the_end_token(model, tok):
    ids, mask = tok.encode(["a dark coat", "a dark sneaker"])  # differ only in the 4th token
    out = _text(model, ids, mask)
    np.testing.assert_allclose(out.states[0, :3], out.states[1, :3], atol=1e-6)  # earlier tokens unaffected
    assert not np.allclose(out.states[0, 3], out.states[1, 3])
    assert not np.allclose(out.pooled[0], out.pooled[1])
    end = int(mask[0].sum()) - 1
    np.testing.assert_allclose(out.pooled[0], model.text.projection(out.states[0, end]), atol=1e-5)


def _by_hand(logits: np.ndarray, pos: np.ndarray) -> float:
    """Both cross-entropies written out with explicit log-sum-exps."""
    total = 0.0
    for mat, p in ((logits, pos), (logits.T, pos.T)):
        for i in range(mat.shape[0]):
            lse = math.log(sum(math.exp(v) for v in mat[i]))
            targets = p[i] / p[i].sum()
            total += -sum(t * (mat[i, j] - lse) for j, t in enumerate(targets)) / mat.shape[0]
    return total / 2


def test_contrastive_loss_equals_a_hand_computed_3x3_case():
    u = np.array([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8]], np.float32)  # unit vectors
    v = np.array([[1.0, 0.0], [0.6, 0.8], [0.0, 1.0]], np.float32)
    scale = math.log(2.0)  # logits = 2 * cosines
    cos = u @ v.T  # [[1, .6, 0], [0, .8, 1], [.6, 1, .8]]
    loss, logits = contrastive_loss(jnp.asarray(u), jnp.asarray(3 * v), jnp.asarray(scale))  # norms removed
    np.testing.assert_allclose(logits, 2 * cos, atol=1e-6)
    e = math.exp
    # logits [[2, 1.2, 0], [0, 1.6, 2], [1.2, 2, 1.6]]: row 0 = column 0, row 1 = column 2 and row 2 =
    # column 1 as sets, so the two directions are equal and the loss is the mean of three row losses
    by_hand = ((-2 + math.log(e(2) + e(1.2) + e(0))) + (-1.6 + math.log(e(0) + e(1.6) + e(2)))
               + (-1.6 + math.log(e(1.2) + e(2) + e(1.6)))) / 3
    assert float(loss) == pytest.approx(by_hand, rel=1e-5)
    assert _by_hand(2 * cos, np.eye(3)) == pytest.approx(by_hand, rel=1e-6)  # cos is float32
    soft = np.array([[1, 1, 0], [0, 1, 0], [0, 0, 1]], bool)  # caption 1 is also true of image 0
    loss_soft, _ = contrastive_loss(jnp.asarray(u), jnp.asarray(v), jnp.asarray(scale), jnp.asarray(soft))
    assert float(loss_soft) == pytest.approx(_by_hand(2 * cos, soft.astype(float)), rel=1e-5)


def test_contrastive_loss_is_symmetric_and_clips_the_scale():
    k1, k2 = jax.random.split(jax.random.key(0))
    a, b = jax.random.normal(k1, (5, 4)), jax.random.normal(k2, (5, 4))
    pos = jnp.asarray(np.eye(5, dtype=bool) | (np.arange(5)[:, None] == (np.arange(5)[None] + 1) % 5))
    ab, _ = contrastive_loss(a, b, jnp.asarray(1.5), pos)
    ba, _ = contrastive_loss(b, a, jnp.asarray(1.5), pos.T)
    assert float(ab) == pytest.approx(float(ba), rel=1e-6)
    big, _ = contrastive_loss(a, b, jnp.asarray(10.0))
    at_max, _ = contrastive_loss(a, b, jnp.asarray(MAX_LOGIT_SCALE))
    assert float(big) == pytest.approx(float(at_max), rel=1e-6)  # temperature never below 1/100
    grad = jax.grad(lambda s: contrastive_loss(a, b, s)[0])(jnp.asarray(10.0))
    assert float(grad) == 0.0


def test_describes_counts_every_true_caption():
    label, tone, size = np.array([7, 7, 7, 5]), np.array([0, 1, 0, 1]), np.array([1, 1, 0, 0])
    tone_said, size_said = np.array([0, -1, -1, 1]), np.array([-1, 1, 0, -1])  # "dark", "large", "small", "light"
    true = np.asarray(describes(label, tone, size, tone_said, size_said))
    expected = np.array([[1, 1, 0, 0],   # dark large sneaker: "a dark sneaker", "a large sneaker"
                         [0, 1, 0, 0],   # light large sneaker
                         [1, 0, 1, 0],   # dark small sneaker
                         [0, 0, 0, 1]], bool)
    np.testing.assert_array_equal(true, expected)
    assert true.diagonal().all()


def test_retrieval_recall_counts_any_true_item():
    img = np.eye(3, dtype=np.float32)
    txt = np.array([[0, 1, 0], [1, 0, 0], [0, 0, 1]], np.float32)  # caption 0 is nearest image 1
    true = np.eye(3, dtype=bool)
    r = retrieval_recall(img, txt, true, ks=(1, 3))
    assert r["t2i_at_1"] == pytest.approx(1 / 3) and r["i2t_at_1"] == pytest.approx(1 / 3)
    assert r["recall_at_3"] == 1.0
    true[1, 0] = True  # caption 0 is true of image 1 as well: now a hit
    assert retrieval_recall(img, txt, true, ks=(1,))["t2i_at_1"] == pytest.approx(2 / 3)


def test_weights_round_trip(model, tok, tmp_path):
    from genlab.pipelines.text import load_clip
    from genlab.train.checkpoint import save_weights

    save_weights(model, tmp_path, "clip", {"config": dataclasses.asdict(TINY)})
    _, loaded = load_clip(tmp_path)
    ids, mask = tok.encode(PROMPTS)
    np.testing.assert_allclose(_text(loaded, ids, mask).pooled, _text(model, ids, mask).pooled, atol=1e-6)


def test_shipped_text_encoder_loads_and_encodes():
    from genlab.pipelines.text import encode_prompts, load_text_encoder

    tokenizer, encoder = load_text_encoder()
    states, mask = encode_prompts(tokenizer, encoder, ["a dark sneaker", "a large coat"])
    assert states.shape == (2, tokenizer.context_length, encoder.config.width) and mask.shape == (2, 24)
    assert np.isfinite(states).all()


@pytest.mark.slow
def test_tiny_training_beats_chance():
    from genlab.data.images import load_images
    from genlab.experiments.clip import ClipExperimentConfig, train_clip

    config = ClipExperimentConfig.tiny()
    config = dataclasses.replace(config, train=dataclasses.replace(config.train, steps=60))
    _, history = train_clip(config, load_images("fashion_mnist", "train"), load_tokenizer(), seed=0)
    loss, accuracy = np.array(history.metrics["loss"]), np.array(history.metrics["accuracy"])
    assert loss[-10:].mean() < math.log(32) < loss[:5].mean()  # uniform logits give log(B) whatever the targets
    assert accuracy[-10:].mean() > 0.12  # an image's best caption is true of it; chance is about 1/20


@pytest.mark.slow
def test_tiny_experiment_reports_every_key():
    from genlab.experiments import EXPERIMENTS
    from genlab.experiments.clip import ClipExperimentConfig, run

    out = run(ClipExperimentConfig.tiny(), [0])
    for key in ("zero_shot_accuracy", "zero_shot_accuracy_heldout_templates", "tone_accuracy", "size_accuracy",
                "recall_at_1", "recall_at_5", "train_seconds"):
        assert key in out and np.isfinite(out[key])
    assert 0 <= out["recall_at_1"] <= out["recall_at_5"] <= 1
    assert EXPERIMENTS["clip-fmnist"].configure("tiny", "hard-targets").objective.soft_targets is False
