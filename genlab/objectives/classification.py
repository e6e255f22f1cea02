"""Cross-entropy for the reference classifier, with augmentation drawn from the step's key."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

from genlab.data.augment import augment


def classification_loss(model, batch: dict[str, jax.Array], key: jax.Array, *, max_shift: int = 2,
                        flip: bool = True) -> tuple[jax.Array, dict[str, jax.Array]]:
    """Mean cross-entropy of ``batch = {"image": [B, 28, 28, 1], "label": [B]}`` after augmentation."""
    k_aug, k_drop = jax.random.split(key)
    x = augment(batch["image"], k_aug, max_shift=max_shift, flip=flip)
    logits = model(x, dropout_key=k_drop)  # [B, K]
    loss = optax.softmax_cross_entropy_with_integer_labels(logits, batch["label"]).mean()
    return loss, {"accuracy": jnp.mean(jnp.argmax(logits, -1) == batch["label"])}
