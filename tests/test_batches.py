"""image_batches: a pure, seeded function of the step; reshuffled per epoch; resumable; sharded on a mesh."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from genlab.data.batches import image_batches

N, B = 50, 8  # 6 steps per epoch with drop_last (2 examples left out each epoch)


def _data():
    images = np.arange(N, dtype=np.float32)[:, None, None, None] * np.ones((1, 4, 4, 1), np.float32)
    labels = np.arange(N, dtype=np.int32)  # label i <-> image filled with i
    return images, labels


def test_shapes_and_pairing():
    images, labels = _data()
    batches = image_batches(images, labels, batch_size=B, seed=0)
    assert batches.steps_per_epoch == N // B
    batch = batches(3)
    assert batch["image"].shape == (B, 4, 4, 1) and batch["label"].shape == (B,)
    assert batch["image"].dtype == np.float32 and batch["label"].dtype == np.int32
    np.testing.assert_array_equal(batch["image"][:, 0, 0, 0], batch["label"])  # images stay with their labels
    assert set(image_batches(images, batch_size=B, seed=0)(0)) == {"image"}


def test_same_seed_same_batches_other_seed_other_batches():
    images, labels = _data()
    a = image_batches(images, labels, batch_size=B, seed=1)
    b = image_batches(images, labels, batch_size=B, seed=1)
    c = image_batches(images, labels, batch_size=B, seed=2)
    for step in range(0, 20, 3):
        np.testing.assert_array_equal(a(step)["label"], b(step)["label"])
    assert any(not np.array_equal(a(s)["label"], c(s)["label"]) for s in range(3))


def test_each_epoch_visits_distinct_examples_in_a_new_order():
    images, labels = _data()
    batches = image_batches(images, labels, batch_size=B, seed=0)
    spe = batches.steps_per_epoch
    epochs = [np.concatenate([batches(e * spe + i)["label"] for i in range(spe)]) for e in range(3)]
    for order in epochs:
        assert len(order) == spe * B and len(set(order.tolist())) == len(order)  # no repeats within an epoch
    assert not np.array_equal(epochs[0], epochs[1]) and not np.array_equal(epochs[1], epochs[2])
    np.testing.assert_array_equal(epochs[1], np.random.default_rng([0, 1]).permutation(N)[: spe * B])


def test_resume_at_step_k_equals_iterating():
    images, labels = _data()
    run = image_batches(images, labels, batch_size=B, seed=5)
    straight = [run(s)["label"] for s in range(20)]
    resumed = image_batches(images, labels, batch_size=B, seed=5)  # a fresh object, as after a restart
    for k in (13, 7, 19):  # out of order on purpose: nothing depends on call history
        np.testing.assert_array_equal(resumed(k)["label"], straight[k])


def test_keep_last_partial_batch():
    images, labels = _data()
    batches = image_batches(images, labels, batch_size=B, seed=0, drop_last=False)
    assert batches.steps_per_epoch == 7
    assert batches(6)["label"].shape == (N - 6 * B,)
    epoch = np.concatenate([batches(i)["label"] for i in range(7)])
    np.testing.assert_array_equal(np.sort(epoch), np.arange(N))  # every example exactly once


@pytest.mark.parametrize("kwargs, needle", [
    ({"batch_size": 0}, "positive"),
    ({"batch_size": N + 1}, "larger than"),
    ({"seed": -1}, "non-negative"),
])
def test_bad_arguments(kwargs, needle):
    images, labels = _data()
    with pytest.raises(ValueError, match=needle):
        image_batches(images, labels, **{"batch_size": B, "seed": 0, **kwargs})
    with pytest.raises(ValueError, match="one to one"):
        image_batches(images, labels[:-1], batch_size=B, seed=0)


def test_single_device_mesh_places_jax_arrays():
    import jax

    mesh = jax.sharding.Mesh(np.array(jax.devices()[:1]), ("data",))
    images, labels = _data()
    batch = image_batches(images, labels, batch_size=B, seed=0, mesh=mesh)(0)
    assert isinstance(batch["image"], jax.Array)
    expected = image_batches(images, labels, batch_size=B, seed=0)(0)["label"]
    np.testing.assert_array_equal(np.asarray(batch["label"]), expected)


_FOUR_DEVICES = textwrap.dedent("""
    import jax, numpy as np
    from jax.sharding import PartitionSpec
    from genlab.data.batches import image_batches
    assert jax.device_count() == 4, jax.devices()
    mesh = jax.sharding.Mesh(np.array(jax.devices()), ("data",))
    images, labels = np.zeros((64, 4, 4, 1), np.float32), np.arange(64, dtype=np.int32)
    batch = image_batches(images, labels, batch_size=8, seed=0, mesh=mesh)(3)
    for x in batch.values():
        assert len(x.sharding.device_set) == 4, x.sharding
        assert x.sharding.spec == PartitionSpec("data"), x.sharding.spec
        assert [s.data.shape[0] for s in x.addressable_shards] == [2, 2, 2, 2]
    expected = image_batches(images, labels, batch_size=8, seed=0)(3)["label"]
    assert np.array_equal(np.asarray(batch["label"]), expected)
    try:
        image_batches(images, labels, batch_size=6, seed=0, mesh=mesh)
    except ValueError as err:
        assert "multiple of 4" in str(err), err
    else:
        raise AssertionError("batch 6 on 4 devices should fail")
    print("OK 4 devices")
""")


def test_four_device_mesh_shards_each_batch():
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=4", "JAX_PLATFORMS": "cpu"}
    result = subprocess.run([sys.executable, "-c", _FOUR_DEVICES], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "OK 4 devices" in result.stdout


def test_images_and_labels_must_match_one_to_one():
    """10,000 images with 5,000 labels must not train silently on the first half."""
    from genlab.data.images import ImageSet

    images, labels = np.zeros((10, 4, 4, 1), np.float32), np.zeros(5, np.int32)
    with pytest.raises(ValueError, match="10 images but 5 labels"):
        image_batches(images, labels, batch_size=2, seed=0)
    with pytest.raises(ValueError, match="10 images but 5 labels"):
        ImageSet(images, labels, "test", ("a",))
