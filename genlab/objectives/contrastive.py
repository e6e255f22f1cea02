"""The symmetric contrastive loss of CLIP (Radford et al. 2021, fig. 3; InfoNCE, van den Oord et al. 2018).

For a batch of B images and B captions, with unit vectors ``u_i`` (images) and ``v_j`` (captions):

1. logits ``s_ij = exp(t) * <u_i, v_j>``, the logit scale ``t`` learned and clipped at ``log 100`` (CLIP
   clamps it so that the temperature never falls below 0.01);
2. image -> text: cross-entropy of row i of ``s`` against the targets ``p_i.`` over the B captions;
3. text -> image: the same for column j against ``q_.j`` over the B images;
4. loss = the mean of the two.

**False negatives, on purpose.** In a batch of 256 Fashion-MNIST images about 25 share a class, and
a caption such as "trainers" or "a dark sneaker" is *true* of many of them. Plain InfoNCE (targets
= the identity) would push an image away from every such caption but its own, a contradiction the
model can only meet by memorising which sneaker got which wording. We therefore use **soft targets
over the true descriptions**: caption j counts as a positive of image i when it names i's class and
every attribute it states (tone, size) is i's; ``p_i.`` is uniform over the positives of image i and
``q_.j`` uniform over the images caption j describes. A caption that says less ("a sneaker") is a
positive of more images; one that says more is a positive of fewer. This is exact (the rule that
makes captions true is known) and costs nothing; ``soft=False`` gives plain InfoNCE for comparison.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

MAX_LOGIT_SCALE = math.log(100.0)


def describes(label, tone, size, tone_said, size_said) -> jax.Array:
    """``[B, B]`` bool: caption j is true of image i (same class; each attribute it states matches).

    ``label``, ``tone``, ``size``: ``[B]`` of the images; ``tone_said``, ``size_said``: ``[B]`` of the
    captions, the stated value (0/1) or -1 where a caption says nothing about it. Caption j was written
    for image j, so the diagonal is True.
    """
    same_class = label[:, None] == label[None, :]
    tone_ok = (tone_said[None, :] < 0) | (tone_said[None, :] == tone[:, None])
    size_ok = (size_said[None, :] < 0) | (size_said[None, :] == size[:, None])
    return same_class & tone_ok & size_ok


def normalize(x: jax.Array, eps: float = 1e-8) -> jax.Array:
    """Rows of ``x: [B, D]`` scaled to unit length."""
    return x / jnp.maximum(jnp.linalg.norm(x, axis=-1, keepdims=True), eps)


def contrastive_loss(image_emb: jax.Array, text_emb: jax.Array, logit_scale: jax.Array,
                     positives: jax.Array | None = None) -> tuple[jax.Array, jax.Array]:
    """Symmetric InfoNCE. ``image_emb: [B, D]``, ``text_emb: [B, D]`` (normalised here), ``logit_scale``:
    scalar (clipped at ``MAX_LOGIT_SCALE``), ``positives: [B, B]`` bool (image i, caption j) or None for
    the identity. Returns ``(loss, logits [B, B])``.
    """
    scale = jnp.exp(jnp.minimum(logit_scale, MAX_LOGIT_SCALE))
    logits = scale * normalize(image_emb) @ normalize(text_emb).T  # [B_img, B_txt]
    pos = jnp.eye(logits.shape[0], dtype=bool) if positives is None else positives
    pos = pos.astype(logits.dtype)
    p = pos / jnp.sum(pos, axis=1, keepdims=True)  # [B, B] image -> text targets, rows sum to 1
    q = pos.T / jnp.sum(pos.T, axis=1, keepdims=True)  # [B, B] text -> image targets
    loss_i2t = -jnp.mean(jnp.sum(p * jax.nn.log_softmax(logits, axis=1), axis=1))
    loss_t2i = -jnp.mean(jnp.sum(q * jax.nn.log_softmax(logits.T, axis=1), axis=1))
    return 0.5 * (loss_i2t + loss_t2i), logits


def random_flip(images: jax.Array, key: jax.Array) -> jax.Array:
    """Mirror each image of ``images: [B, H, W, C]`` left-right with probability 1/2 (tone, size and class
    survive a mirror)."""
    flip = jax.random.bernoulli(key, 0.5, (images.shape[0], 1, 1, 1))
    return jnp.where(flip, images[:, :, ::-1, :], images)


def clip_loss(model, batch: dict[str, jax.Array], key: jax.Array, *, soft: bool = True,
              flip: bool = True) -> tuple[jax.Array, dict[str, jax.Array]]:
    """The CLIP loss of ``model`` (a :class:`genlab.models.clip.CLIP`) on one batch.

    ``batch``: ``image [B, H, W, C]``, ``ids [B, L]``, ``mask [B, L]`` (the captions), ``label``,
    ``tone``, ``size`` (of the images) and ``tone_said``, ``size_said`` (of the captions), each ``[B]``.
    ``soft``: soft targets over true descriptions (see the module docstring); False: the identity.
    Metrics: ``accuracy`` (an image's best caption is true of it), ``temperature``.
    """
    images = random_flip(batch["image"], key) if flip else batch["image"]
    image_emb = model.image(images)  # [B, E]
    text_emb = model.text(batch["ids"], batch["mask"]).pooled  # [B, E]
    true = describes(batch["label"], batch["tone"], batch["size"], batch["tone_said"], batch["size_said"])
    loss, logits = contrastive_loss(image_emb, text_emb, model.logit_scale[...], true if soft else None)
    best = jnp.argmax(logits, axis=1)  # [B]
    accuracy = jnp.mean(jnp.take_along_axis(true, best[:, None], axis=1))
    temperature = jnp.exp(-jnp.minimum(model.logit_scale[...], MAX_LOGIT_SCALE))
    return loss, {"accuracy": accuracy, "temperature": temperature}
