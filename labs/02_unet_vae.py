# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [raw]
# # ASSIGNMENT CONFIG
# name: 02_unet_vae
# seed:
#   variable: SEED
#   autograder_value: 42
#   student_value: 42

# %% [markdown]
# # Lab 02: U-Net and VAE — Encoder, Decoder, Skip Connections und das latente Bild
#
# Two networks carry every image generator of the later labs. The **U-Net** is a denoiser: its
# **encoder** shrinks the image level by level and keeps the most important structures, its **decoder**
# rebuilds it (*entrauscht* it), and **skip connections** hand the decoder the encoder's features of the
# same size, so that fine detail from the early layers is not lost in the small bottleneck. The **VAE**
# compresses a 28x28 image into a small **latent image** (*latentes Bild*, here 7x7x4) and its decoder
# turns a latent image back into pixels; latent diffusion (lab 03) generates in that latent space.
#
# | Begriff (Vorlesung) | English | Wo im Lab |
# |---|---|---|
# | Encoder | encoder: shrinks the image (U-Net) / maps it to a latent distribution (VAE) | §1 Q1, Q2; §3 Q6 |
# | Decoder | decoder: rebuilds the image from the bottleneck (U-Net) / from the latent (VAE) | §1 Q1, Q2; §3 Q6, Q7 |
# | Skip Connection | skip connection: concatenation of encoder features into the decoder | Q1 (shapes), Q2 (implement), Q3 (ablation) |
# | Entrauschen | denoising: the U-Net maps x0 + sigma * eps back to x0 | §2 Q3 |
# | latentes Bild | latent image: the VAE's 7x7x4 code of a 28x28x1 image | Q1 (U-Net on latents), Q4–Q7 |
#
# **Plan.** §1 the U-Net: Q1 trace the shapes · Q2 implement a skip connection. §2 denoising: Q3 train
# two denoisers, with and without skips, and measure the difference. §3 the VAE: Q4 the
# reparameterisation trick · Q5 the KL term · Q6 the VAE loss, and train it · Q7 the latent space.
#
# **Time.** The setup cell picks a preset from your hardware (`cpu` without a GPU; set `GENLAB_PRESET`
# to override). At `cpu` the three trainings (two denoisers in Q3, the VAE in Q6) take a few minutes
# each on a 2-core laptop and the whole lab stays under 15 minutes; on a GPU (`gpu`) a few minutes in all.

# %%
import os
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from genlab.data.batches import image_batches
from genlab.data.images import load_images
from genlab.experiments.unet_skip import UNetSkipConfig, train_denoiser
from genlab.figures.unet import denoising_examples, psnr_vs_noise
from genlab.figures.vae import interpolations, latent_channels, reconstructions
from genlab.models.unet import UNet, UNetConfig, Upsample
from genlab.models.vae import VAE, VAEConfig
from genlab.notebook import lab_setup
from genlab.pipelines.latents import decode_latents, encode_dataset, reconstruct
from genlab.presets import resolve_preset
from genlab.samplers.denoise import denoise_images, noisy_copies
from genlab.train import fit
from genlab.train.configs import TrainConfig
from genlab.train.optim import OptimConfig
from genlab.train.steps import make_train_step

SEED = 42  # otter sets the grading seed here; every key below comes from it
PRESET = resolve_preset(os.environ.get("GENLAB_PRESET"))  # tiny | cpu | gpu (from the hardware when unset)
lab_setup(PRESET)  # Jupyter/Colab: figures show as images; an answer not written yet says so instead of failing

# Per preset: the denoisers of Q3 (both variants use exactly these settings) and the VAE of Q6.
# "minutes": what one training takes on a 2-core CPU (tiny, cpu) or one GPU (gpu).
RUNS = {
    "tiny": dict(unet=UNetConfig(channels=(8, 16, 16), mid_attention=False, time_dim=16, num_heads=2),
                 denoise_steps=40, denoise_batch=8, eval_images=64,
                 vae=VAEConfig.tiny(), vae_steps=40, vae_batch=16, latent_images=64, minutes=0.2),
    "cpu": dict(unet=UNetConfig.cpu(), denoise_steps=600, denoise_batch=32, eval_images=500,
                vae=VAEConfig.cpu(), vae_steps=800, vae_batch=64, latent_images=2000, minutes=3),
    "gpu": dict(unet=UNetConfig.gpu(), denoise_steps=3000, denoise_batch=128, eval_images=2000,
                vae=VAEConfig.gpu(), vae_steps=3000, vae_batch=128, latent_images=2000, minutes=1.5),
}
RUN = RUNS[PRESET]
KL_WEIGHT = 1e-3  # VAE loss = mse + KL_WEIGHT * KL per latent dimension (Q6)

train = load_images("fashion_mnist", "train", source="embedded")  # the embedded 10k subset: same everywhere
test = load_images("fashion_mnist", "test", source="embedded")  # 2k test images
k_q3_noise, k_q6_init, k_q6_train, k_q7 = jax.random.split(jax.random.key(SEED), 4)
print(f"preset {PRESET}: train {train.images.shape}, test {test.images.shape}; "
      f"each of the three trainings takes about {RUN['minutes']} min")

# %% [markdown]
# ## 1. The U-Net
#
# `genlab.models.unet.UNet` is the U-Net that the diffusion labs use. With `channels=(16, 32, 64)` it has
# three **levels**; level $i$ works at size $28 / 2^i$ with `channels[i]` feature channels:
#
# ```
#     x ─ conv_in ─ level 0 ──────────────── skip 0 ──► concat ─ level 0 ─ conv_out ─► out
#                      └ down ─ level 1 ───── skip 1 ──► concat ─ level 1 ┘ up
#                                 └ down ─ level 2 ─ skip 2 ─► concat ─ level 2 ┘ up
#                                             └─ bottleneck ─┘
# ```
#
# - **Encoder**: `conv_in` (to `channels[0]`), then per level a ResBlock (the size and width stay); its
#   output is that level's **skip** tensor; then `down` (a stride-2 convolution) halves the size and
#   changes the width to the next level's `channels[i+1]`. The last level has no `down`.
# - **Bottleneck**: two ResBlocks at the smallest size (width `channels[-1]`).
# - **Decoder**, from the bottom up: at level $i$, `up` (nearest-neighbour x2 and a convolution to
#   `channels[i]`; not at the last level), then **concatenation with skip $i$ along the channels**,
#   then a ResBlock back to `channels[i]` channels. `conv_out` maps to the output channels.
#
# Height and width must be divisible by $2^{\text{levels}-1}$; otherwise the U-Net pads them with zeros
# at the bottom/right first (and crops the output back).

# %% [raw]
# # BEGIN QUESTION
# name: q1
# points: 2

# %% [markdown]
# **Q1. Trace the shapes (2 points).** A batch of $B = 8$ images `[8, 28, 28, 1]` goes through
# `UNet(UNetConfig(channels=(16, 32, 64)))`. Fill in `q1_shapes` (by hand, from the description above)
# with the NHWC shape tuple of
#
# - `"skip0"`, `"skip1"`, `"skip2"`: the skip tensors of levels 0, 1, 2;
# - `"bottleneck"`: the bottleneck's output;
# - `"concat2"`, `"concat1"`, `"concat0"`: the decoder's input at level 2, 1, 0 right after the
#   concatenation with the skip;
# - `"output"`: the U-Net's output.
#
# Then the same for the **latent images** of §3: a batch `[8, 7, 7, 4]` through
# `UNet(UNetConfig(in_channels=4, channels=(32, 64, 128)))`, in `q1_latent_shapes` with the keys
# `"skip0"`, `"skip2"`, `"bottleneck"` and `"output"` (mind the padding: 7 is not divisible by 4).

# %% [raw]
# # BEGIN SOLUTION

# %%
q1_shapes = {}  # pixels [8, 28, 28, 1], channels=(16, 32, 64)
q1_shapes["skip0"] = (8, 28, 28, 16)  # SOLUTION
q1_shapes["skip1"] = (8, 14, 14, 32)  # SOLUTION
q1_shapes["skip2"] = (8, 7, 7, 64)  # SOLUTION
q1_shapes["bottleneck"] = (8, 7, 7, 64)  # SOLUTION
q1_shapes["concat2"] = (8, 7, 7, 128)  # SOLUTION
q1_shapes["concat1"] = (8, 14, 14, 64)  # SOLUTION
q1_shapes["concat0"] = (8, 28, 28, 32)  # SOLUTION
q1_shapes["output"] = (8, 28, 28, 1)  # SOLUTION

q1_latent_shapes = {}  # latents [8, 7, 7, 4], in_channels=4, channels=(32, 64, 128)
q1_latent_shapes["skip0"] = (8, 8, 8, 32)  # SOLUTION
q1_latent_shapes["skip2"] = (8, 2, 2, 128)  # SOLUTION
q1_latent_shapes["bottleneck"] = (8, 2, 2, 128)  # SOLUTION
q1_latent_shapes["output"] = (8, 7, 7, 4)  # SOLUTION

# %% [raw]
# # END SOLUTION

# %% [markdown]
# Check your answer against the real module: `jax.eval_shape` runs the U-Net on *abstract* arrays (only
# shapes and dtypes, no numbers, no compute). `UNet.encode` returns the bottleneck and the list of skips.

# %%
def unet_shapes(config, x_shape):
    """{"skip0".., "bottleneck", "output"} shapes of UNet(config) on an input of x_shape, via jax.eval_shape."""
    graphdef, state = nnx.split(nnx.eval_shape(lambda: UNet(config, rngs=nnx.Rngs(0))))  # weights: shapes only

    def run(state, x):
        model = nnx.merge(graphdef, state)
        b, hgt, wid, _ = x.shape
        m = model.pad_multiple()
        padded = jnp.pad(x, ((0, 0), (0, -hgt % m), (0, -wid % m), (0, 0)))  # what UNet.__call__ does first
        h, skips = model.encode(padded, model.embed_time(jnp.zeros(b), b))
        return h, skips, model(x, jnp.zeros(b))

    h, skips, out = jax.eval_shape(run, state, jax.ShapeDtypeStruct(x_shape, jnp.float32))
    return {**{f"skip{i}": s.shape for i, s in enumerate(skips)}, "bottleneck": h.shape, "output": out.shape}


for name, answer, config, shape in (
    ("pixels", q1_shapes, UNetConfig(channels=(16, 32, 64)), (8, 28, 28, 1)),
    ("latents", q1_latent_shapes, UNetConfig(in_channels=4, channels=(32, 64, 128)), (8, 7, 7, 4)),
):
    real = unet_shapes(config, shape)
    wrong = [k for k in real if k in answer and not (isinstance(answer[k], (tuple, list))
                                                     and tuple(answer[k]) == tuple(real[k]))]
    print(f"{name}: {'all checked shapes right' if not wrong else 'wrong: ' + ', '.join(wrong)}")

# %% [raw]
# # BEGIN TESTS

# %%
def test_q1_keys_and_output(q1_shapes, q1_latent_shapes):
    import numpy as np

    want = {"skip0", "skip1", "skip2", "bottleneck", "concat2", "concat1", "concat0", "output"}
    assert type(q1_shapes) is dict and set(q1_shapes) == want, \
        f"q1_shapes needs exactly the keys {sorted(want)}, got {sorted(map(str, q1_shapes)) if type(q1_shapes) is dict else q1_shapes}"
    latent = {"skip0", "skip2", "bottleneck", "output"}
    assert type(q1_latent_shapes) is dict and set(q1_latent_shapes) == latent, \
        f"q1_latent_shapes needs exactly the keys {sorted(latent)}"
    for name, shapes in (("q1_shapes", q1_shapes), ("q1_latent_shapes", q1_latent_shapes)):
        for k, v in shapes.items():
            assert type(v) in (tuple, list) and len(v) == 4 and all(type(n) in (int, np.int32, np.int64) for n in v), \
                f"{name}[{k!r}] must be an NHWC tuple of 4 ints, got {v!r}"
    assert tuple(q1_shapes["output"]) == (8, 28, 28, 1), "the U-Net's output has the input's shape [8, 28, 28, 1]"
    assert tuple(q1_latent_shapes["output"]) == (8, 7, 7, 4), \
        "the padded 7x7 latents come out cropped back to the input's shape [8, 7, 7, 4]"

# %%
def test_q1_concat_doubles_the_channels(q1_shapes):
    import numpy as np

    keys = [f"{part}{i}" for part in ("skip", "concat") for i in range(3)]
    assert type(q1_shapes) is dict and all(k in q1_shapes for k in keys), \
        f"q1_shapes needs the keys {keys} (fill it in the cell under Q1)"
    for k in keys:
        v = q1_shapes[k]
        assert type(v) in (tuple, list) and len(v) == 4 and all(type(n) in (int, np.int32, np.int64) for n in v), \
            f"q1_shapes[{k!r}] must be an NHWC tuple of 4 ints, got {v!r}"
    for i in range(3):
        skip, concat = tuple(q1_shapes[f"skip{i}"]), tuple(q1_shapes[f"concat{i}"])
        assert concat[:3] == skip[:3] and concat[3] == 2 * skip[3], (
            f"at level {i} the decoder's features (channels[{i}]) are concatenated with skip {i} of the same size "
            f"and width: concat{i} must be skip{i} with twice the channels, got {concat} for {skip}")

# %%
# HIDDEN
def test_q1_pixel_shapes(q1_shapes):
    import jax
    import jax.numpy as jnp
    import numpy as np
    from flax import nnx

    from genlab.models.unet import UNet, UNetConfig

    graphdef, state = nnx.split(nnx.eval_shape(lambda: UNet(UNetConfig(channels=(16, 32, 64)), rngs=nnx.Rngs(0))))

    def encode(state, x):
        model = nnx.merge(graphdef, state)
        return model.encode(x, model.embed_time(jnp.zeros(8), 8))

    h, skips = jax.eval_shape(encode, state, jax.ShapeDtypeStruct((8, 28, 28, 1), jnp.float32))
    want = {f"skip{i}": s.shape for i, s in enumerate(skips)}
    want["bottleneck"] = h.shape
    want.update({f"concat{i}": s.shape[:3] + (2 * s.shape[3],) for i, s in enumerate(skips)})
    assert type(q1_shapes) is dict, "q1_shapes must be a dict {name: NHWC shape tuple}"
    for k, shape in want.items():
        v = q1_shapes.get(k)
        assert type(v) in (tuple, list) and all(type(n) in (int, np.int32, np.int64) for n in v), \
            f"q1_shapes[{k!r}] must be an NHWC tuple of ints, got {v!r}"
        got = tuple(int(n) for n in v)
        assert got == tuple(shape), f"q1_shapes[{k!r}] = {got} is wrong: level i works at 28 / 2**i with channels[i]"

# %%
# HIDDEN
def test_q1_latent_shapes(q1_latent_shapes):
    import jax
    import jax.numpy as jnp
    import numpy as np
    from flax import nnx

    from genlab.models.unet import UNet, UNetConfig

    config = UNetConfig(in_channels=4, channels=(32, 64, 128))
    graphdef, state = nnx.split(nnx.eval_shape(lambda: UNet(config, rngs=nnx.Rngs(0))))

    def run(state, x):
        model = nnx.merge(graphdef, state)
        padded = jnp.pad(x, ((0, 0), (0, 1), (0, 1), (0, 0)))  # 7 -> 8, a multiple of 2**2
        h, skips = model.encode(padded, model.embed_time(jnp.zeros(8), 8))
        return h, skips, model(x, jnp.zeros(8))

    h, skips, out = jax.eval_shape(run, state, jax.ShapeDtypeStruct((8, 7, 7, 4), jnp.float32))
    want = {"skip0": skips[0].shape, "skip2": skips[2].shape, "bottleneck": h.shape, "output": out.shape}
    assert type(q1_latent_shapes) is dict, "q1_latent_shapes must be a dict {name: NHWC shape tuple}"
    for k, shape in want.items():
        v = q1_latent_shapes.get(k)
        assert type(v) in (tuple, list) and all(type(n) in (int, np.int32, np.int64) for n in v), \
            f"q1_latent_shapes[{k!r}] must be an NHWC tuple of ints, got {v!r}"
        got = tuple(int(n) for n in v)
        assert got == tuple(shape), \
            f"q1_latent_shapes[{k!r}] = {got} is wrong: the 7x7 latents are padded to 8x8 first, then halved per level"

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [markdown]
# *Count (ungraded).* For 28x28x1 pixels the bottleneck holds $7 \cdot 7 \cdot 64 = 3136$ numbers per
# image, more than the 784 pixels. Why does it still lose fine detail? (Think of what a stride-2
# convolution and the ResBlocks at 7x7 can and cannot represent, and what the network is trained to keep.)

# %% [raw]
# # BEGIN QUESTION
# name: q2
# points: 2

# %% [markdown]
# **Q2. A skip connection (2 points).** (a) Write `q2_merge_skip(h, skip)`: the decoder's features
# `h: [B, H, W, C_h]` and the encoder's skip `skip: [B, H, W, C_s]` -> `[B, H, W, C_h + C_s]`, the
# concatenation along the channel axis, `h` first. Raise a `ValueError` when B, H or W differ.
#
# (b) Wire the skip in `Q2MiniUNet`, a U-Net with one level and a 14x14 bottleneck. Write its
# `__call__` in this order (ReLU after every convolution except `out`; `up` has no ReLU):
#
# 1. `s = relu(enc(x))` — the encoder features `[B, 28, 28, w]`, the skip;
# 2. `h = relu(mid(relu(down(s))))` — the bottleneck `[B, 14, 14, 2w]`;
# 3. `h = up(h)` — back to `[B, 28, 28, w]`;
# 4. merge `h` with the skip using your `q2_merge_skip` — but with **zeros of the same shape** in place
#    of `s` when the module was built with `skip=False` (this is what `UNetConfig(skip=False)` does too);
# 5. `out(relu(dec(merged)))` -> `[B, 28, 28, 1]`.

# %% [raw]
# # BEGIN SOLUTION

# %%
def q2_merge_skip(h, skip):
    """h: [B, H, W, C_h], skip: [B, H, W, C_s] -> [B, H, W, C_h + C_s]."""
    # BEGIN SOLUTION
    if h.shape[:-1] != skip.shape[:-1]:
        raise ValueError(f"cannot merge h {h.shape} with skip {skip.shape}: B, H and W must agree")
    return jnp.concatenate([h, skip], axis=-1)
    # END SOLUTION


class Q2MiniUNet(nnx.Module):
    """x: [B, 28, 28, 1] -> [B, 28, 28, 1]; one encoder level, a 14x14 bottleneck, one decoder level."""

    def __init__(self, width: int = 8, *, skip: bool = True, rngs: nnx.Rngs):
        self.skip = skip
        self.enc = nnx.Conv(1, width, (3, 3), rngs=rngs)  # [B, 28, 28, w]
        self.down = nnx.Conv(width, 2 * width, (3, 3), strides=(2, 2), rngs=rngs)  # [B, 14, 14, 2w]
        self.mid = nnx.Conv(2 * width, 2 * width, (3, 3), rngs=rngs)  # [B, 14, 14, 2w]
        self.up = Upsample(2 * width, width, rngs=rngs)  # [B, 28, 28, w]
        self.dec = nnx.Conv(2 * width, width, (3, 3), rngs=rngs)  # merged [B, 28, 28, 2w] -> [B, 28, 28, w]
        self.out = nnx.Conv(width, 1, (3, 3), rngs=rngs)  # [B, 28, 28, 1]

    def __call__(self, x):
        # BEGIN SOLUTION
        s = nnx.relu(self.enc(x))
        h = nnx.relu(self.mid(nnx.relu(self.down(s))))
        h = self.up(h)
        merged = q2_merge_skip(h, s if self.skip else jnp.zeros_like(s))
        return self.out(nnx.relu(self.dec(merged)))
        # END SOLUTION

# %% [raw]
# # END SOLUTION

# %% [markdown]
# A test of the wiring: cut the bottleneck (set the `mid` convolution to zero). Then the only path from
# the input to the output is the skip: with it the output still depends on the image, without it the
# output is the same for every image.

# %%
def q2_cut_bottleneck(model):
    """Zero the mid convolution: the bottleneck then carries nothing about the input."""
    model.mid.kernel[...] = jnp.zeros_like(model.mid.kernel[...])
    model.mid.bias[...] = jnp.zeros_like(model.mid.bias[...])
    return model


def q2_forward(x, skip=True, *, width=8, seed=0, cut=False):
    """Q2MiniUNet(width, skip=skip, rngs=nnx.Rngs(seed)) applied to x: [B, 28, 28, 1] -> [B, 28, 28, 1]; with
    cut=True its bottleneck cut first. The tests run your Q2MiniUNet through this (a model stays in this notebook)."""
    model = Q2MiniUNet(width, skip=skip, rngs=nnx.Rngs(seed))
    if cut:
        q2_cut_bottleneck(model)
    return model(jnp.asarray(x, jnp.float32))


x_two = jnp.asarray(test.images[:2])  # two different test images
for skip in (True, False):
    y = q2_forward(x_two, skip, cut=True)
    diff = float(jnp.max(jnp.abs(y[0] - y[1])))
    print(f"skip={skip}: output {y.shape}, |out(image 0) - out(image 1)| max = {diff:.4f}")

# %% [raw]
# # BEGIN TESTS

# %%
def test_q2_merge_shapes(q2_merge_skip):
    import jax.numpy as jnp
    import numpy as np

    h, skip = jnp.ones((2, 7, 7, 3)), jnp.zeros((2, 7, 7, 5))
    try:
        out = q2_merge_skip(h, skip)
    except (TypeError, ValueError) as err:
        raise AssertionError(f"h [2, 7, 7, 3] and a skip [2, 7, 7, 5] of the same B, H, W must merge: a skip connection "
                             f"concatenates along the channels (it does not add), but q2_merge_skip raised {err}") from None
    assert out is not None, "q2_merge_skip must return the merged array (a function without `return` gives None)"
    assert type(out) is np.ndarray, f"q2_merge_skip returns an array, not a {type(out).__name__}"
    assert out.shape == (2, 7, 7, 8), f"[2, 7, 7, 3] merged with [2, 7, 7, 5] along the channels is (2, 7, 7, 8), got {out.shape}"
    assert np.allclose(out[..., :3], 1.0), "h comes first along the channels, then the skip"

# %%
def test_q2_mini_unet_shape(q2_forward):
    import numpy as np

    try:
        y = q2_forward(np.zeros((3, 28, 28, 1), np.float32), True)  # your Q2MiniUNet(skip=True, rngs=nnx.Rngs(0))
    except (TypeError, ValueError) as err:
        raise AssertionError(f"Q2MiniUNet maps [B, 28, 28, 1] to [B, 28, 28, 1]; `dec` takes the merged features, "
                             f"[B, 28, 28, 2w] (h and the skip concatenated), but running it raised {err}") from None
    assert y is not None, "Q2MiniUNet.__call__ must return the output (a method without `return` gives None)"
    assert type(y) is np.ndarray, f"Q2MiniUNet returns an array, not a {type(y).__name__}"
    assert y.shape == (3, 28, 28, 1), f"Q2MiniUNet maps [B, 28, 28, 1] to [B, 28, 28, 1], got {y.shape}"

# %%
def test_q2_output_depends_on_skip(q2_forward):
    import numpy as np

    x = np.random.default_rng(3).uniform(-1, 1, (2, 28, 28, 1)).astype(np.float32)
    out = {}
    for skip in (True, False):
        y = q2_forward(x, skip, seed=1, cut=True)  # your Q2MiniUNet with the mid convolution set to zero
        assert y is not None, "Q2MiniUNet.__call__ must return the output (a method without `return` gives None)"
        assert type(y) is np.ndarray and y.shape == (2, 28, 28, 1), \
            f"Q2MiniUNet maps [2, 28, 28, 1] to an array [2, 28, 28, 1], got {type(y).__name__} {np.shape(y)}"
        out[skip] = float(np.max(np.abs(y[0].astype(float) - y[1])))
    assert out[True] > 1e-3, ("with the bottleneck cut, the skip is the only path from the input to the output: with "
                              "skip=True two different images must give different outputs")
    assert out[False] < 1e-6, ("with the bottleneck cut and skip=False (zeros in place of the skip) the output cannot "
                               "depend on the input: merge zeros of the skip's shape, not the skip")

# %%
# HIDDEN
def test_q2_merge_rejects_mismatch(q2_merge_skip):
    import jax.numpy as jnp
    import numpy as np

    rng = np.random.default_rng(0)
    a, b = jnp.asarray(rng.normal(size=(2, 4, 4, 2))), jnp.asarray(rng.normal(size=(2, 4, 4, 3)))
    got = q2_merge_skip(a, b)
    assert type(got) is np.ndarray, f"q2_merge_skip returns an array, not a {type(got).__name__}"
    assert got.shape == (2, 4, 4, 5) and np.allclose(got, np.concatenate([np.asarray(a), np.asarray(b)], -1)), \
        "q2_merge_skip(h, skip) is the concatenation of h and skip along the last axis"
    for bad in (jnp.zeros((2, 8, 8, 3)), jnp.zeros((3, 4, 4, 3)), jnp.zeros((2, 4, 5, 3))):
        try:
            q2_merge_skip(a, bad)
        except ValueError:
            continue
        raise AssertionError(f"q2_merge_skip({a.shape}, {bad.shape}) must raise ValueError: B, H and W differ")

# %%
# HIDDEN
def test_q2_forward_matches_the_recipe(q2_forward):
    import jax.numpy as jnp
    import numpy as np
    from flax import nnx

    from genlab.models.unet import Upsample

    class Layers(nnx.Module):  # the lab's Q2MiniUNet.__init__: the same layers in the same order, so the same weights
        def __init__(self, width, rngs):
            self.enc = nnx.Conv(1, width, (3, 3), rngs=rngs)
            self.down = nnx.Conv(width, 2 * width, (3, 3), strides=(2, 2), rngs=rngs)
            self.mid = nnx.Conv(2 * width, 2 * width, (3, 3), rngs=rngs)
            self.up = Upsample(2 * width, width, rngs=rngs)
            self.dec = nnx.Conv(2 * width, width, (3, 3), rngs=rngs)
            self.out = nnx.Conv(width, 1, (3, 3), rngs=rngs)

    def recipe(m, x, skip):
        s = nnx.relu(m.enc(x))
        h = m.up(nnx.relu(m.mid(nnx.relu(m.down(s)))))
        return m.out(nnx.relu(m.dec(jnp.concatenate([h, s * skip], -1))))

    x = np.random.default_rng(4).uniform(-1, 1, (2, 28, 28, 1)).astype(np.float32)
    for skip in (True, False):
        want = np.asarray(recipe(Layers(4, nnx.Rngs(2)), jnp.asarray(x), float(skip)))
        got = q2_forward(x, skip, width=4, seed=2)
        assert type(got) is np.ndarray and got.shape == want.shape, \
            f"Q2MiniUNet maps [2, 28, 28, 1] to an array [2, 28, 28, 1], got {type(got).__name__} {np.shape(got)}"
        assert np.allclose(got, want, rtol=1e-5, atol=1e-5), \
            f"Q2MiniUNet(skip={skip}) does not follow steps 1-5 (ReLU after every convolution but `up` and `out`)"

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [markdown]
# ## 2. Entrauschen: what do the skip connections buy?
#
# A denoiser gets $x_\sigma = x_0 + \sigma\varepsilon$ ($\varepsilon \sim \mathcal N(0, I)$) and the noise
# level $\sigma$ and predicts the clean image $x_0$ (`genlab.objectives.denoise`). We train the same
# U-Net twice, with and without skip connections (`UNetConfig(skip=False)` feeds the decoder zeros in
# place of the skips: same parameters, same decoder), with the same initial weights, batches and noise.
# `train_denoiser(q3_config, images, skip=..., seed=SEED)` trains one and returns `(model, history)`;
# `denoise_images(model, x_noisy, sigma)` denoises a stack of images (clipped to [-1, 1]).
#
# Image quality is measured by the **PSNR** (peak signal-to-noise ratio) in dB,
# $\mathrm{PSNR}(x, y) = 10 \log_{10}\!\big(R^2 / \mathrm{MSE}(x, y)\big)$ with the value range $R = 2$ for
# images in $[-1, 1]$. Higher is better; +6 dB halves the error's standard deviation.

# %%
q3_config = UNetSkipConfig(model=RUN["unet"],
                           train=TrainConfig(steps=RUN["denoise_steps"], batch_size=RUN["denoise_batch"]),
                           optim=OptimConfig(learning_rate=2e-3, warmup_steps=min(50, RUN["denoise_steps"] // 5),
                                             clip_norm=1.0))
SIGMAS = (0.1, 0.2, 0.4, 0.8)  # evaluation noise levels, low to high
q3_clean = test.images[: RUN["eval_images"]]  # [N, 28, 28, 1]
q3_noisy = noisy_copies(q3_clean, SIGMAS, k_q3_noise)  # {sigma: [N, 28, 28, 1]}, the same noise for both models
print(f"{q3_config.train.steps} steps of batch {q3_config.train.batch_size} per denoiser, "
      f"about {RUN['minutes']} min each; PSNR on {len(q3_clean)} test images")

# %% [raw]
# # BEGIN QUESTION
# name: q3
# points: 3

# %% [markdown]
# **Q3. The skip ablation (3 points).** (a) Write `q3_psnr(x, y)`: `x, y: [B, H, W, C]` -> `[B]`, the
# PSNR of each image pair in dB with $R = 2$.
#
# (b) Train `q3_skip_model` (with skips) and `q3_noskip_model` (without) with `train_denoiser` and
# `seed=SEED`; keep the histories in `q3_skip_history` and `q3_noskip_history`.
#
# (c) Fill in `q3_table`: for every `sigma` in `SIGMAS` a dict `{"noisy": .., "skip": .., "no_skip": ..}`
# of mean PSNRs (floats) against `q3_clean`: of the noisy input `q3_noisy[sigma]` itself, and of
# both models' denoised images.

# %% [raw]
# # BEGIN SOLUTION

# %%
def q3_psnr(x, y):
    """x, y: [B, H, W, C] in [-1, 1] -> [B] PSNR in dB."""
    # BEGIN SOLUTION
    mse = jnp.mean((jnp.asarray(x, jnp.float32) - jnp.asarray(y, jnp.float32)) ** 2, axis=(1, 2, 3))
    return 10.0 * jnp.log10(4.0 / mse)
    # END SOLUTION


start = time.perf_counter()
# q3_skip_model, q3_skip_history = train_denoiser(...) and the same without skips: your code here
# BEGIN SOLUTION
q3_skip_model, q3_skip_history = train_denoiser(q3_config, train.images, skip=True, seed=SEED, progress=True)
q3_noskip_model, q3_noskip_history = train_denoiser(q3_config, train.images, skip=False, seed=SEED, progress=True)
# END SOLUTION
print(f"trained both in {time.perf_counter() - start:.0f} s")
# q3_table = {sigma: {"noisy": ..., "skip": ..., "no_skip": ...} for every sigma}: your code here
# BEGIN SOLUTION
q3_table = {}
for sigma in SIGMAS:
    q3_table[sigma] = {
        "noisy": float(jnp.mean(q3_psnr(q3_noisy[sigma], q3_clean))),
        "skip": float(jnp.mean(q3_psnr(denoise_images(q3_skip_model, q3_noisy[sigma], sigma), q3_clean))),
        "no_skip": float(jnp.mean(q3_psnr(denoise_images(q3_noskip_model, q3_noisy[sigma], sigma), q3_clean))),
    }
# END SOLUTION

# %% [raw]
# # END SOLUTION

# %%
# The tests measure your two denoisers through these two functions (a model stays in this notebook; arrays travel).
def q3_denoise(which, x_noisy, sigma):
    """which = "skip" (q3_skip_model) or "no_skip" (q3_noskip_model): that model's denoised x_noisy at sigma."""
    return denoise_images({"skip": q3_skip_model, "no_skip": q3_noskip_model}[which], x_noisy, sigma)


def q3_model_config(which):
    """which = "skip" or "no_skip": that model's UNetConfig (the tests check its `skip`)."""
    return {"skip": q3_skip_model, "no_skip": q3_noskip_model}[which].config


print(" sigma | noisy  | skip   | no skip | gap (dB)")
for sigma, row in q3_table.items():
    print(f" {sigma:5.2f} | {row['noisy']:6.2f} | {row['skip']:6.2f} | {row['no_skip']:7.2f} | "
          f"{row['skip'] - row['no_skip']:+.2f}")

# %% [raw]
# # BEGIN TESTS

# %%
def test_q3_psnr_known_value(q3_psnr):
    import numpy as np

    x = np.zeros((2, 4, 4, 1), np.float32)
    y = x + np.array([0.1, 0.2], np.float32)[:, None, None, None]  # MSE 0.01 and 0.04
    got = q3_psnr(x, y)
    assert got is not None, "q3_psnr must return the PSNRs (a function without `return` gives None)"
    assert type(got) is np.ndarray, f"q3_psnr returns an array of PSNRs, not a {type(got).__name__}"
    assert got.shape == (2,), f"q3_psnr returns one value per image, [B], got shape {got.shape}"
    got = got.astype(float)
    want = 10 * np.log10(4.0 / np.array([0.01, 0.04]))
    assert np.allclose(got, want, rtol=1e-4), \
        f"MSE 0.01 and 0.04 with range R = 2 give 10 log10(R^2 / MSE) = {want.round(2)} dB, got {got.round(2)}"

# %%
def test_q3_table_shape(q3_table):
    import numpy as np

    SIGMAS = (0.1, 0.2, 0.4, 0.8)  # the lab's evaluation noise levels (the grader's copy, not the notebook's)
    assert type(q3_table) is dict and set(q3_table) == set(SIGMAS), \
        f"q3_table needs one row per sigma in SIGMAS {SIGMAS}, got {q3_table if type(q3_table) is not dict else sorted(map(str, q3_table))}"
    for sigma, row in q3_table.items():
        assert type(row) is dict and {"noisy", "skip", "no_skip"} <= set(row), \
            f"q3_table[{sigma}] must be a dict with the keys 'noisy', 'skip', 'no_skip'"
        for name in ("noisy", "skip", "no_skip"):
            value = row[name]
            assert type(value) in (float, np.float32, np.float64, np.ndarray) and np.ndim(value) == 0, \
                f"q3_table[{sigma}][{name!r}] is a mean PSNR, one float, not a {type(value).__name__}"
        vals = np.asarray([row["noisy"], row["skip"], row["no_skip"]], dtype=float)
        assert np.isfinite(vals).all(), f"q3_table[{sigma}] has non-finite values: {row}"

# %%
def test_q3_skips_win_at_low_noise(q3_table):
    import numpy as np

    from genlab.grading.settings import for_preset

    SIGMAS = (0.1, 0.2, 0.4, 0.8)  # the lab's evaluation noise levels (the grader's copy, not the notebook's)
    assert type(q3_table) is dict and all(type(q3_table.get(s)) is dict for s in SIGMAS), \
        "q3_table is not set yet: fill it in the cell under Q3, one row per sigma in SIGMAS"
    for s in SIGMAS:
        for name in ("skip", "no_skip"):
            value = q3_table[s].get(name)
            assert type(value) in (float, np.float32, np.float64, np.ndarray) and np.ndim(value) == 0, \
                f"q3_table[{s}][{name!r}] is a mean PSNR, one float, not a {type(value).__name__}"
    gap = {s: float(q3_table[s]["skip"]) - float(q3_table[s]["no_skip"]) for s in SIGMAS}
    need = for_preset({"tiny": 0.5, "cpu": 2.0, "gpu": 2.0})
    low, high = SIGMAS[0], SIGMAS[-1]
    assert gap[low] >= need, (f"at sigma = {low} the skips should buy at least {need} dB: the fine detail the "
                              f"decoder must output is still in skip 0; measured {gap[low]:.2f} dB")
    assert gap[low] > gap[high], ("the skips should help more at low noise than at high noise, where the skip "
                                  f"carries mostly noise; gaps measured: { {s: round(g, 2) for s, g in gap.items()} }")

# %%
# HIDDEN
def test_q3_psnr_matches_genlab(q3_psnr):
    import numpy as np

    from genlab.metrics.psnr import psnr

    rng = np.random.default_rng(5)
    x = rng.uniform(-1, 1, (5, 6, 6, 2)).astype(np.float32)
    y = np.clip(x + 0.3 * rng.normal(size=x.shape), -1, 1).astype(np.float32)
    got = q3_psnr(x, y)
    assert type(got) is np.ndarray and got.shape == (5,), \
        f"q3_psnr returns an array of one PSNR per image, [5] here, got {type(got).__name__} {np.shape(got)}"
    assert np.allclose(got.astype(float), psnr(x, y), rtol=1e-4), \
        "q3_psnr is 10 log10(R^2 / MSE) with R = 2 and the MSE of each image over H, W and C (not over the batch)"

# %%
# HIDDEN
def test_q3_table_is_measured(q3_table, q3_psnr, q3_denoise, q3_model_config, q3_skip_history, q3_noskip_history,
                              SEED):
    import jax
    import numpy as np

    from genlab.data.images import load_images
    from genlab.grading.channel import Record
    from genlab.grading.settings import for_preset
    from genlab.samplers.denoise import noisy_copies

    assert type(q3_skip_history) is Record and type(q3_noskip_history) is Record and type(q3_table) is dict, \
        "train both denoisers (keep the histories that train_denoiser returns) and fill q3_table in the cell under Q3"
    steps = for_preset({"tiny": 40, "cpu": 600, "gpu": 3000})  # RUNS[...]["denoise_steps"] at the grader's preset
    assert type(q3_skip_history.steps) is list and type(q3_noskip_history.steps) is list, \
        "q3_skip_history and q3_noskip_history are the Histories that train_denoiser returns"
    assert q3_skip_history.steps[-1] == q3_noskip_history.steps[-1] == steps, \
        f"train both denoisers for q3_config.train.steps = {steps} steps"
    configs = [q3_model_config(which) for which in ("skip", "no_skip")]
    assert all(type(c) is Record and type(c.fields.get("skip")) is bool for c in configs), \
        "q3_skip_model and q3_noskip_model are the U-Nets that train_denoiser returns"
    assert configs[0].skip and not configs[1].skip, "q3_skip_model must have skip=True and q3_noskip_model skip=False"
    # the lab's evaluation images and noise, rebuilt here from the grading seed (as the cell above Q3 makes them)
    clean = load_images("fashion_mnist", "test", source="embedded").images[: for_preset({"tiny": 64, "cpu": 500,
                                                                                            "gpu": 2000})]
    s = 0.1  # SIGMAS[0]
    noisy = noisy_copies(clean, (0.1, 0.2, 0.4, 0.8), jax.random.split(jax.random.key(SEED), 4)[0])[s]
    assert type(q3_table.get(s)) is dict, "q3_table needs a row for sigma = 0.1"
    want = {"noisy": noisy, "skip": q3_denoise("skip", noisy, s), "no_skip": q3_denoise("no_skip", noisy, s)}
    for name, images in want.items():  # measured with your q3_psnr: a mistake in (a) is not counted again here
        assert type(images) is np.ndarray and images.shape == clean.shape, \
            f"denoise_images of {len(clean)} noisy test images gives an array {clean.shape}, got {np.shape(images)}"
        got = q3_psnr(images, clean)
        assert type(got) is np.ndarray, f"q3_psnr returns an array of PSNRs, not a {type(got).__name__}"
        value = float(np.mean(got.astype(float)))
        entry = q3_table[s].get(name)
        assert type(entry) in (float, np.float32, np.float64, np.ndarray) and np.ndim(entry) == 0, \
            f"q3_table[{s}][{name!r}] is a mean PSNR, one float, not a {type(entry).__name__}"
        assert abs(float(entry) - value) < 0.05, \
            f"q3_table[{s}][{name!r}] must be the mean q3_psnr of those images against q3_clean: {value:.2f} dB"

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [markdown]
# The table as a plot, and six test images denoised by both models at a low and a high noise level.

# %%
q3_psnr_table = {f"sigma={sigma:g}": row for sigma, row in q3_table.items()}
psnr_vs_noise(q3_psnr_table)

# %%
q3_show = (SIGMAS[0], SIGMAS[-1])
denoising_examples(q3_clean[:6], {s: q3_noisy[s][:6] for s in q3_show},
                   {name: {s: denoise_images(model, q3_noisy[s], s)[:6] for s in q3_show}
                    for name, model in (("skip", q3_skip_model), ("no_skip", q3_noskip_model))},
                   q3_psnr_table)

# %% [markdown]
# *Explain (ungraded).* At which noise level is the gap between the two models largest, and why?
# What does the denoiser need to output at $\sigma = 0.1$, and where in the network is that information
# still available? Why can the model without skips not do much better at $\sigma = 0.1$ than at
# $\sigma = 0.8$, and why does the model with skips lose its advantage at high noise?

# %% [markdown]
# ## 3. The VAE and its latent image
#
# `genlab.models.vae.VAE` encodes an image `x: [B, 28, 28, 1]` into the mean and log-variance of a
# Gaussian over latent images, `vae.encode(x) -> (mean, logvar)`, each `[B, 7, 7, 4]`; `vae.decode(z)`
# turns a latent image `z: [B, 7, 7, 4]` back into pixels. Training samples $z$ from $q(z \mid x) =
# \mathcal N(\text{mean}, e^{\text{logvar}})$ and asks the decoder to reconstruct $x$ from it; a KL term
# keeps $q(z \mid x)$ close to $\mathcal N(0, I)$ (Kingma & Welling 2014).

# %% [raw]
# # BEGIN QUESTION
# name: q4
# points: 2

# %% [markdown]
# **Q4. The reparameterisation trick (2 points).** Sampling $z \sim \mathcal N(\mu, \sigma^2)$ directly
# has no gradient with respect to $\mu$ and $\sigma$. Write it as a deterministic function of
# $(\mu, \sigma)$ and independent noise instead: $z = \mu + \sigma \varepsilon$, $\varepsilon \sim
# \mathcal N(0, I)$, $\sigma = \exp(\tfrac12 \text{logvar})$. Write `q4_reparameterize(mean, logvar, key)`
# (any shape; same shape out) and draw the noise as `jax.random.normal(key, mean.shape)`.

# %% [raw]
# # BEGIN SOLUTION

# %%
def q4_reparameterize(mean, logvar, key):
    """mean, logvar: [...] -> z: [...], z = mean + exp(logvar / 2) * eps."""
    # BEGIN SOLUTION
    eps = jax.random.normal(key, mean.shape)
    return mean + jnp.exp(0.5 * logvar) * eps
    # END SOLUTION

# %% [raw]
# # END SOLUTION

# %%
def q4_z_sum(mean, logvar, key):
    """The sum of all entries of z: a scalar, so jax.grad(q4_z_sum, argnums=0 or 1) is dz/dmean or dz/dlogvar
    per element (the tests take your gradients through it)."""
    return jnp.sum(q4_reparameterize(mean, logvar, key))


q4_grad_mean, q4_grad_logvar = jax.grad(q4_z_sum, argnums=(0, 1))(jnp.zeros(3), jnp.zeros(3), jax.random.key(0))
print("dz/dmean:", q4_grad_mean, " dz/dlogvar:", q4_grad_logvar, "(= eps / 2 at logvar = 0)")

# %% [raw]
# # BEGIN TESTS

# %%
def test_q4_shape_and_mean_gradient(q4_reparameterize, q4_z_sum):
    import jax
    import jax.numpy as jnp
    import numpy as np

    mean, logvar = jnp.ones((2, 7, 7, 4)), jnp.zeros((2, 7, 7, 4))
    key = jax.random.key_data(jax.random.key(0))  # a key as plain data: its two uint32 words
    z = q4_reparameterize(mean, logvar, key)
    assert z is not None, "q4_reparameterize must return z (a function without `return` gives None)"
    assert type(z) is np.ndarray, f"q4_reparameterize returns an array z, not a {type(z).__name__}"
    assert z.shape == (2, 7, 7, 4), f"z must have the shape of mean, (2, 7, 7, 4), got {z.shape}"
    g = q4_z_sum.grad(mean, logvar, key, argnums=0)  # jax.grad of sum(z) in mean, taken in your notebook's process
    assert type(g) is np.ndarray and g.shape == (2, 7, 7, 4), "the gradient of sum(z) in mean has the shape of mean"
    assert np.allclose(g, 1.0, rtol=1e-6), "z = mean + sigma * eps, so dz/dmean must be 1 everywhere"

# %%
def test_q4_gradient_reaches_logvar(q4_reparameterize, q4_z_sum):
    import jax
    import numpy as np

    k_m, k_v, k = jax.random.split(jax.random.key(6), 3)
    mean, logvar, k = jax.random.normal(k_m, (3, 5)), jax.random.normal(k_v, (3, 5)), jax.random.key_data(k)
    z = q4_reparameterize(mean, logvar, k)
    assert type(z) is np.ndarray and z.shape == (3, 5), \
        f"q4_reparameterize returns an array z of the shape of mean, (3, 5), got {type(z).__name__} {np.shape(z)}"
    g = q4_z_sum.grad(mean, logvar, k, argnums=1)  # jax.grad of sum(z) in logvar, taken in your notebook's process
    assert type(g) is np.ndarray and g.shape == (3, 5), "the gradient of sum(z) in logvar has the shape of logvar"
    assert np.allclose(g, 0.5 * (z - np.asarray(mean)), rtol=1e-4, atol=1e-6), (
        "the trick makes z differentiable in logvar: dz/dlogvar = exp(logvar / 2) * eps / 2 = (z - mean) / 2; "
        "sample eps independently of mean and logvar and scale it by exp(logvar / 2)")

# %%
# HIDDEN
def test_q4_matches_genlab(q4_reparameterize):
    import jax
    import numpy as np

    from genlab.models.vae import reparameterize

    k_m, k_v, k = jax.random.split(jax.random.key(6), 3)
    mean, logvar, k = jax.random.normal(k_m, (3, 5)), jax.random.normal(k_v, (3, 5)), jax.random.key_data(k)
    z = q4_reparameterize(mean, logvar, k)
    assert type(z) is np.ndarray and z.shape == (3, 5), \
        f"q4_reparameterize returns an array z of the shape of mean, (3, 5), got {type(z).__name__} {np.shape(z)}"
    assert np.allclose(z, np.asarray(reparameterize(mean, logvar, k)), rtol=1e-5, atol=1e-6), \
        "z must be mean + exp(logvar / 2) * jax.random.normal(key, mean.shape)"

# %%
# HIDDEN
def test_q4_moments(q4_reparameterize):
    import jax
    import jax.numpy as jnp
    import numpy as np

    z = q4_reparameterize(jnp.full((20000,), 3.0), jnp.full((20000,), np.log(0.25)),
                          jax.random.key_data(jax.random.key(7)))
    assert type(z) is np.ndarray and z.shape == (20000,), \
        f"q4_reparameterize returns an array z of the shape of mean, (20000,), got {type(z).__name__} {np.shape(z)}"
    assert abs(z.mean() - 3.0) < 0.02 and abs(z.std() - 0.5) < 0.02, \
        f"mean 3 and logvar log(0.25) give samples of mean 3 and std 0.5, got {z.mean():.3f} and {z.std():.3f}"
    z2 = q4_reparameterize(jnp.zeros((2, 20000)), jnp.zeros((2, 20000)), jax.random.key_data(jax.random.key(8)))
    assert type(z2) is np.ndarray and z2.shape == (2, 20000), \
        f"q4_reparameterize returns an array z of the shape of mean, (2, 20000), got {type(z2).__name__} {np.shape(z2)}"
    assert abs(np.corrcoef(z2)[0, 1]) < 0.05, "different entries need independent noise (one eps per element)"

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: q5
# points: 2

# %% [markdown]
# **Q5. The KL term (2 points).** (a) Write `q5_gaussian_kl(mean, logvar)`: the closed form of
# $\mathrm{KL}\big(\mathcal N(\mu, \sigma^2) \,\|\, \mathcal N(0, 1)\big)$ per element (same shape as `mean`),
#
# $$\mathrm{KL} = \tfrac12\big(\mu^2 + \sigma^2 - 1 - \log\sigma^2\big).$$
#
# (b) Check it by sampling. Write `q5_kl_monte_carlo(mean, logvar, key, n)`: draw `n` samples
# $z_j \sim \mathcal N(\mu, \sigma^2)$ of every element with your `q4_reparameterize` (on mean and logvar
# broadcast to `[n, *mean.shape]`) and return the mean over $j$ of $\log q(z_j) - \log p(z_j)$ with
# $q = \mathcal N(\mu, \sigma^2)$, $p = \mathcal N(0, 1)$: shape `mean.shape`. (The $\log 2\pi$ terms cancel.)

# %% [raw]
# # BEGIN SOLUTION

# %%
def q5_gaussian_kl(mean, logvar):
    """mean, logvar: [...] -> KL per element [...]."""
    return 0.5 * (jnp.square(mean) + jnp.exp(logvar) - 1.0 - logvar)  # SOLUTION


def q5_kl_monte_carlo(mean, logvar, key, n):
    """mean, logvar: [...] -> Monte-Carlo estimate of the KL per element [...], from n samples."""
    # BEGIN SOLUTION
    mean, logvar = jnp.asarray(mean, jnp.float32), jnp.asarray(logvar, jnp.float32)
    shape = (n,) + mean.shape
    z = q4_reparameterize(jnp.broadcast_to(mean, shape), jnp.broadcast_to(logvar, shape), key)  # [n, ...]
    log_q = -0.5 * (jnp.square(z - mean) / jnp.exp(logvar) + logvar)
    log_p = -0.5 * jnp.square(z)
    return jnp.mean(log_q - log_p, axis=0)
    # END SOLUTION

# %% [raw]
# # END SOLUTION

# %%
q5_means, q5_logvars = jnp.array([0.0, 1.0, 0.0, -2.0]), jnp.array([0.0, 0.0, np.log(4.0), -2.0])
print("closed form:", q5_gaussian_kl(q5_means, q5_logvars))
print("Monte Carlo:", q5_kl_monte_carlo(q5_means, q5_logvars, jax.random.key(SEED), 20000))

# %% [raw]
# # BEGIN TESTS

# %%
def test_q5_zero_at_the_prior(q5_gaussian_kl, q5_kl_monte_carlo):
    import jax
    import jax.numpy as jnp
    import numpy as np

    kl = q5_gaussian_kl(jnp.zeros((2, 3)), jnp.zeros((2, 3)))
    assert kl is not None, "q5_gaussian_kl must return the KL (a function without `return` gives None)"
    assert type(kl) is np.ndarray, f"q5_gaussian_kl returns an array of KLs, not a {type(kl).__name__}"
    assert kl.shape == (2, 3), f"the KL is per element: for [2, 3] inputs expected (2, 3), got {kl.shape}"
    assert np.allclose(kl, 0.0, atol=1e-7), "the KL of N(0, 1) from N(0, 1) is 0"
    mc = q5_kl_monte_carlo(jnp.zeros(3), jnp.zeros(3), jax.random.key_data(jax.random.key(0)), 100)
    assert mc is not None, "q5_kl_monte_carlo must return the estimate (a function without `return` gives None)"
    assert type(mc) is np.ndarray, f"q5_kl_monte_carlo returns an array, not a {type(mc).__name__}"
    assert mc.shape == (3,), f"q5_kl_monte_carlo returns mean.shape, (3,), got {mc.shape}"
    assert np.allclose(mc, 0.0, atol=1e-5), "with q = p, log q(z) - log p(z) is 0 for every sample"

# %%
def test_q5_kl_is_positive_away_from_the_prior(q5_gaussian_kl):
    import jax.numpy as jnp
    import numpy as np

    kl = q5_gaussian_kl(jnp.array([1.0, 0.0]), jnp.array([0.0, float(np.log(4.0))]))
    assert type(kl) is np.ndarray and kl.shape == (2,), \
        f"q5_gaussian_kl returns one KL per element, shape (2,) here, got {type(kl).__name__} {getattr(kl, 'shape', '')}"
    want = np.array([0.5, (4.0 - 1.0 - np.log(4.0)) / 2])
    assert np.allclose(kl, want, rtol=1e-5), (
        f"KL(N(1, 1) || N(0, 1)) = 0.5 and KL(N(0, 4) || N(0, 1)) = {want[1]:.4f}, got {np.round(kl, 4)}: a KL is "
        "never negative; (mean^2 + exp(logvar) - 1 - logvar) / 2 per element")

# %%
def test_q5_monte_carlo_agrees(q5_kl_monte_carlo, q4_reparameterize):
    import jax
    import jax.numpy as jnp
    import numpy as np

    m, lv, n = jnp.array([1.0, 0.0, -0.5]), jnp.array([0.0, float(np.log(4.0)), -1.0]), 40000
    key = jax.random.key_data(jax.random.key(10))  # a key as plain data: its two uint32 words
    truth = 0.5 * (np.asarray(m) ** 2 + np.exp(np.asarray(lv)) - 1 - np.asarray(lv))  # 0.5, 0.807, 0.309
    got = q5_kl_monte_carlo(m, lv, key, n)
    assert type(got) is np.ndarray, f"q5_kl_monte_carlo returns an array, not a {type(got).__name__}"
    assert got.shape == (3,), f"q5_kl_monte_carlo returns mean.shape, (3,), got {got.shape}"
    got = got.astype(float)
    # with your own q4_reparameterize, right or wrong: a mistake there is counted in Q4 only
    z = q4_reparameterize(jnp.broadcast_to(m, (n, 3)), jnp.broadcast_to(lv, (n, 3)), key)
    assert type(z) is np.ndarray and z.shape == (n, 3), \
        f"q4_reparameterize returns an array z of the shape of mean, ({n}, 3), got {type(z).__name__} {np.shape(z)}"
    z = z.astype(float)
    yours = np.mean(-0.5 * ((z - np.asarray(m)) ** 2 / np.exp(np.asarray(lv)) + np.asarray(lv)) + 0.5 * z**2, axis=0)
    assert np.allclose(got, truth, atol=0.06) or np.allclose(got, yours, rtol=1e-3, atol=1e-4), (
        f"the mean of log q(z) - log p(z) over {n} samples should agree with the closed form {truth.round(3)}, "
        f"got {got.round(3)}")

# %%
# HIDDEN
def test_q5_known_values(q5_gaussian_kl):
    import jax
    import jax.numpy as jnp
    import numpy as np

    from genlab.objectives.vae import gaussian_kl

    m, lv = np.array([1.0, 0.0, -2.0]), np.array([0.0, np.log(4.0), -2.0])
    want = 0.5 * (m**2 + np.exp(lv) - 1 - lv)  # 0.5, 0.807, 2.568
    got = q5_gaussian_kl(jnp.asarray(m), jnp.asarray(lv))
    assert type(got) is np.ndarray and got.shape == (3,), \
        f"q5_gaussian_kl returns an array of the shape of mean, (3,), got {type(got).__name__} {np.shape(got)}"
    got = got.astype(float)
    assert np.allclose(got, want, rtol=1e-5), \
        f"KL = (mean^2 + exp(logvar) - 1 - logvar) / 2 gives {want.round(3)} here, got {got.round(3)}"
    k1, k2 = jax.random.split(jax.random.key(9))
    m2, lv2 = 2 * jax.random.normal(k1, (4, 5)), 2 * jax.random.normal(k2, (4, 5))
    got2 = q5_gaussian_kl(m2, lv2)
    assert type(got2) is np.ndarray and got2.shape == (4, 5), \
        f"q5_gaussian_kl returns an array of the shape of mean, (4, 5), got {type(got2).__name__} {np.shape(got2)}"
    assert np.allclose(got2, np.asarray(gaussian_kl(m2, lv2)), rtol=1e-5), \
        "q5_gaussian_kl must match the closed form on random means and log-variances"

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: q6
# points: 2

# %% [markdown]
# **Q6. The VAE loss, and training (2 points).** (a) Write `q6_vae_loss(model, batch, key)` for
# `batch["image"]: [B, 28, 28, 1]`: encode to `(mean, logvar)`, sample `z` with your
# `q4_reparameterize(mean, logvar, key)`, decode it, and return
# `(loss, {"mse": mse, "kl_per_dim": kl})` with `mse` the mean squared reconstruction error over all
# pixels, `kl` the mean of your `q5_gaussian_kl` over all latent elements, and
# `loss = mse + KL_WEIGHT * kl`.
#
# (b) Train the VAE `q6_vae` (built below, with its optimiser `q6_optimizer`: Adam with warmup and
# cosine decay, and its batches `q6_batches`) for `RUN["vae_steps"]` steps: make the train step
# `q6_step = make_train_step(q6_vae_loss)` and run `fit((q6_vae, q6_optimizer), q6_step, q6_batches,
# steps=..., key=k_q6_train)`. Keep the returned history in `q6_history`.

# %% [raw]
# # BEGIN SOLUTION

# %%
def q6_vae_loss(model, batch, key):
    """batch["image"]: [B, H, W, C] -> (loss, {"mse", "kl_per_dim"})."""
    # BEGIN SOLUTION
    x = batch["image"]
    mean, logvar = model.encode(x)
    recon = model.decode(q4_reparameterize(mean, logvar, key))
    mse = jnp.mean(jnp.square(recon - x))
    kl = jnp.mean(q5_gaussian_kl(mean, logvar))
    return mse + KL_WEIGHT * kl, {"mse": mse, "kl_per_dim": kl}
    # END SOLUTION


q6_vae = VAE(RUN["vae"], rngs=nnx.Rngs(params=k_q6_init))
q6_lr = optax.warmup_cosine_decay_schedule(0.0, 3e-3, min(50, RUN["vae_steps"] // 5), RUN["vae_steps"])
q6_optimizer = nnx.Optimizer(q6_vae, optax.chain(optax.clip_by_global_norm(1.0), optax.adam(q6_lr)), wrt=nnx.Param)
q6_batches = image_batches(train.images, batch_size=RUN["vae_batch"], seed=SEED)
print(f"VAE: {RUN['vae_steps']} steps of batch {RUN['vae_batch']}, about {RUN['minutes']} min")
start = time.perf_counter()
q6_step = make_train_step(q6_vae_loss)  # SOLUTION
# BEGIN SOLUTION
q6_history = fit((q6_vae, q6_optimizer), q6_step, q6_batches, steps=RUN["vae_steps"], key=k_q6_train,
                 log_every=50, desc="Q6 VAE")
# END SOLUTION
print(f"trained in {time.perf_counter() - start:.0f} s")

# %% [raw]
# # END SOLUTION

# %%
def q6_loss_of_new_vae(images, init_seed, key):
    """Your q6_vae_loss (jitted) on a new tiny VAE, VAE(VAEConfig.tiny(), rngs=nnx.Rngs(init_seed)), and the batch
    {"image": images}: the tests check your loss through this (a model stays in this notebook; arrays travel)."""
    vae = VAE(VAEConfig.tiny(), rngs=nnx.Rngs(init_seed))
    return nnx.jit(q6_vae_loss)(vae, {"image": jnp.asarray(images, jnp.float32)}, key)

# %%
q6_recon = reconstruct(q6_vae, test.images[:500])  # posterior means, decoded, clipped to [-1, 1]
q6_recon_psnr = float(np.mean(10 * np.log10(4.0 / np.mean((q6_recon - test.images[:500]) ** 2, axis=(1, 2, 3)))))
print(f"final train mse {np.mean(q6_history.metrics['mse'][-10:]):.4f}, "
      f"KL per latent dim {np.mean(q6_history.metrics['kl_per_dim'][-10:]):.3f} nats; "
      f"test reconstruction PSNR {q6_recon_psnr:.1f} dB")
reconstructions(test.images[:8], q6_recon[:8], q6_recon_psnr)

# %% [raw]
# # BEGIN TESTS

# %%
def test_q6_loss_parts(q6_loss_of_new_vae, q5_gaussian_kl):
    import jax
    import jax.numpy as jnp
    import numpy as np
    from flax import nnx

    from genlab.models.vae import VAE, VAEConfig

    out = q6_loss_of_new_vae(np.zeros((2, 28, 28, 1), np.float32), 0, jax.random.key_data(jax.random.key(0)))
    assert type(out) in (tuple, list) and len(out) == 2, \
        "q6_vae_loss must return (loss, {'mse': ..., 'kl_per_dim': ...})"
    loss, metrics = out
    assert type(loss) in (np.ndarray, np.float32, np.float64, float) and np.shape(loss) == (), \
        f"the loss is a scalar: mse + KL_WEIGHT * kl, got {type(loss).__name__} {np.shape(loss)}"
    assert type(metrics) is dict and {"mse", "kl_per_dim"} <= set(metrics), \
        "the second value is the dict of metrics with the keys 'mse' and 'kl_per_dim'"
    for name in ("mse", "kl_per_dim"):
        assert type(metrics[name]) in (np.ndarray, np.float32, np.float64, float) and np.shape(metrics[name]) == (), \
            f"metrics[{name!r}] is one number (a mean), got {type(metrics[name]).__name__} {np.shape(metrics[name])}"
    # the KL part is the mean of your q5_gaussian_kl: where that gives a negative KL, it is counted in Q5 only
    mean, logvar = VAE(VAEConfig.tiny(), rngs=nnx.Rngs(0)).encode(jnp.zeros((2, 28, 28, 1)))  # the same VAE
    own = q5_gaussian_kl(mean, logvar)
    own_negative = type(own) is np.ndarray and float(np.mean(own)) < 0
    assert float(metrics["mse"]) >= 0 and (float(metrics["kl_per_dim"]) >= 0 or own_negative), \
        "a squared error and a KL are never negative"

# %%
def test_q6_reconstruction_error_falls(q6_history):
    import numpy as np

    from genlab.grading.channel import Record
    from genlab.grading.settings import for_preset

    assert type(q6_history) is Record and "metrics" in q6_history.fields, \
        "q6_history is not set yet: keep the history that fit returns in the cell under Q6"
    steps = for_preset({"tiny": 40, "cpu": 800, "gpu": 3000})  # RUNS[...]["vae_steps"] at the grader's preset
    assert type(q6_history.steps) is list and q6_history.steps and q6_history.steps[-1] == steps, \
        f"train for RUN['vae_steps'] = {steps} steps"
    assert type(q6_history.metrics) is dict and type(q6_history.metrics.get("mse")) is list, \
        "q6_history.metrics['mse'] is the list of mse values that fit logged"
    mse = np.asarray(q6_history.metrics["mse"], dtype=float)
    assert mse[-5:].mean() < 0.7 * mse[:5].mean(), \
        f"training should cut the reconstruction error by 30 % at least: from {mse[:5].mean():.4f} to {mse[-5:].mean():.4f}"

# %%
# HIDDEN
def test_q6_loss_is_mse_plus_weighted_kl(q6_loss_of_new_vae, q4_reparameterize, q5_gaussian_kl):
    import jax
    import jax.numpy as jnp
    import numpy as np
    from flax import nnx

    from genlab.models.vae import VAE, VAEConfig

    KL_WEIGHT = 1e-3  # the lab's weight (the grader's copy, not the notebook's)

    images = np.random.default_rng(11).uniform(-1, 1, (4, 28, 28, 1)).astype(np.float32)
    key = jax.random.key_data(jax.random.key(12))  # a key as plain data: its two uint32 words
    out = q6_loss_of_new_vae(images, 3, key)  # your loss on VAE(VAEConfig.tiny(), rngs=nnx.Rngs(3))
    assert type(out) in (tuple, list) and len(out) == 2 and type(out[1]) is dict, \
        "q6_vae_loss must return (loss, {'mse': ..., 'kl_per_dim': ...})"
    loss, metrics = out
    # the recipe of Q6 on the same VAE (same seed, same weights) with your own Q4 and Q5: their mistakes are
    # not counted again
    vae = VAE(VAEConfig.tiny(), rngs=nnx.Rngs(3))
    mean, logvar = vae.encode(jnp.asarray(images))  # JAX arrays: they reach your functions as JAX arrays
    z, kl = q4_reparameterize(mean, logvar, key), q5_gaussian_kl(mean, logvar)
    assert type(z) is np.ndarray and type(kl) is np.ndarray, "q4_reparameterize and q5_gaussian_kl return arrays"
    want_mse = float(np.mean(np.square(np.asarray(vae.decode(jnp.asarray(z)), np.float64) - images)))
    want_kl = float(np.mean(kl.astype(np.float64)))
    for name, got, value in (("mse", metrics.get("mse"), want_mse), ("kl_per_dim", metrics.get("kl_per_dim"), want_kl),
                             ("loss", loss, want_mse + KL_WEIGHT * want_kl)):
        assert type(got) in (np.ndarray, np.float32, np.float64, float) and np.shape(got) == (), \
            f"{name} is one number, got {type(got).__name__} {np.shape(got)}"
        assert abs(float(got) - value) <= 1e-4 * abs(value) + 1e-7, \
            f"{name} should be {value:.6g} (encode, your q4_reparameterize, decode; mse + KL_WEIGHT * kl), got {float(got):.6g}"

# %%
# HIDDEN
def test_q6_trained(q6_recon):
    import numpy as np

    from genlab.data.images import load_images
    from genlab.grading.settings import for_preset, preset
    from genlab.metrics.psnr import psnr

    x = load_images("fashion_mnist", "test", source="embedded", limit=500).images
    assert type(q6_recon) is np.ndarray and q6_recon.shape == x.shape, \
        f"q6_recon holds the reconstructions of the first 500 test images, {x.shape}, got {np.shape(q6_recon)}"
    got = float(np.mean(psnr(q6_recon[:200], x[:200])))
    need = for_preset({"tiny": 11.0, "cpu": 20.0, "gpu": 22.0})  # an untrained VAE: about 8 dB
    assert got >= need, f"the trained VAE reconstructs test images at {got:.1f} dB PSNR at {preset()}, expected >= {need}"

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: q7
# points: 2

# %% [markdown]
# **Q7. The latent space (2 points).** (a) Latent diffusion wants latents of about unit variance
# (Stable Diffusion multiplies its latents by 0.18215 for that). Encode `q7_images` (test images) into
# posterior samples `q7_z = encode_dataset(q6_vae, q7_images, k_q7)` (`[N, 7, 7, 4]`, given below),
# and compute the **latent scale factor** `q7_scale = 1 / std(q7_z)` (one float over all elements) and
# the scaled latents `q7_scaled = q7_scale * q7_z`.
#
# (b) Write `q7_interpolate(z0, z1, n)`: `[h, w, c]`, `[h, w, c]` -> `[n, h, w, c]`, the points
# $(1 - \alpha) z_0 + \alpha z_1$ for $\alpha$ = `n` equally spaced values from 0 to 1 (both ends
# included). Then decode the path between the latent means of `q7_images[q7_a]` and `q7_images[q7_b]`
# (a T-shirt and a sneaker; `q7_means_ab` below) with 8 points: `q7_path = decode_latents(q6_vae,
# q7_interpolate(...))`, `[8, 28, 28, 1]`.

# %%
q7_images = test.images[: RUN["latent_images"]]
q7_z = encode_dataset(q6_vae, q7_images, k_q7)  # [N, 7, 7, 4] posterior samples (unscaled)
q7_a = int(np.flatnonzero(test.labels[: len(q7_images)] == 0)[0])  # the first T-shirt/top
q7_b = int(np.flatnonzero(test.labels[: len(q7_images)] == 7)[0])  # the first sneaker
q7_means_ab = encode_dataset(q6_vae, q7_images[[q7_a, q7_b]], None)  # [2, 7, 7, 4] posterior means


def q7_decode(z):
    """Latents [N, 7, 7, 4] -> images [N, 28, 28, 1], decoded by q6_vae (the tests decode through this)."""
    return decode_latents(q6_vae, np.asarray(z, np.float32))

# %% [raw]
# # BEGIN SOLUTION

# %%
q7_scale = float(1.0 / np.std(q7_z))  # SOLUTION
q7_scaled = q7_scale * q7_z  # SOLUTION


def q7_interpolate(z0, z1, n):
    """z0, z1: [h, w, c] -> [n, h, w, c], linear from z0 to z1."""
    # BEGIN SOLUTION
    alpha = jnp.linspace(0.0, 1.0, n)[:, None, None, None]
    return (1.0 - alpha) * jnp.asarray(z0)[None] + alpha * jnp.asarray(z1)[None]
    # END SOLUTION


q7_path = decode_latents(q6_vae, np.asarray(q7_interpolate(q7_means_ab[0], q7_means_ab[1], 8)))  # SOLUTION

# %% [raw]
# # END SOLUTION

# %%
print(f"latent scale {q7_scale:.4f}; scaled latents: mean {np.mean(q7_scaled):+.3f}, std {np.std(q7_scaled):.3f}")
interpolations(np.asarray(q7_path)[None])

# %% [raw]
# # BEGIN TESTS

# %%
def test_q7_types(q7_scale, q7_interpolate, q7_path):
    import jax.numpy as jnp
    import numpy as np

    assert q7_scale is not None and q7_scale is not Ellipsis, "q7_scale is not set yet: compute it in the cell under Q7"
    assert type(q7_scale) in (float, np.float32, np.float64, np.ndarray) and np.ndim(q7_scale) == 0, \
        f"the scale factor 1 / std is one float, not a {type(q7_scale).__name__}"
    assert float(q7_scale) > 0, f"the scale factor 1 / std is a positive number, got {q7_scale}"
    path = q7_interpolate(jnp.zeros((7, 7, 4)), jnp.ones((7, 7, 4)), 5)
    assert path is not None, "q7_interpolate must return the points (a function without `return` gives None)"
    assert type(path) is np.ndarray, f"q7_interpolate returns an array of points, not a {type(path).__name__}"
    assert path.shape == (5, 7, 7, 4), f"5 points between two [7, 7, 4] latents: (5, 7, 7, 4), got {path.shape}"
    assert type(q7_path) is np.ndarray, f"q7_path is the array of decoded images, not a {type(q7_path).__name__}"
    assert q7_path.shape == (8, 28, 28, 1), f"q7_path decodes 8 latents: [8, 28, 28, 1], got {q7_path.shape}"

# %%
def test_q7_scaled_latents_have_unit_std(q7_scaled):
    import numpy as np

    assert q7_scaled is not None and q7_scaled is not Ellipsis, "q7_scaled is not set yet: compute it in the cell under Q7"
    assert type(q7_scaled) is np.ndarray, f"q7_scaled is an array of latents, not a {type(q7_scaled).__name__}"
    std = float(np.std(q7_scaled.astype(float)))
    assert abs(std - 1.0) < 1e-3, (f"the scaled latents must have std 1, like the noise diffusion adds to them; "
                                   f"got {std:.4f}: q7_scale is 1 / std of all elements of q7_z")

# %%
# HIDDEN
def test_q7_scale(q7_scale, q7_scaled, q7_z):
    import numpy as np

    assert type(q7_z) is np.ndarray, "q7_z is the array of latents that the cell above Q7's answer computes"
    assert type(q7_scale) in (float, np.float32, np.float64, np.ndarray) and np.ndim(q7_scale) == 0, \
        f"the scale factor 1 / std is one float, not a {type(q7_scale).__name__}"
    assert type(q7_scaled) is np.ndarray and q7_scaled.shape == q7_z.shape, \
        f"q7_scaled is an array of the shape of q7_z, {q7_z.shape}, got {type(q7_scaled).__name__} {np.shape(q7_scaled)}"
    z = q7_z.astype(np.float64)
    assert abs(float(q7_scale) * z.std() - 1.0) < 1e-3, f"q7_scale is 1 / std(q7_z) = {1 / z.std():.4f}, got {q7_scale}"
    assert np.allclose(q7_scaled.astype(float), float(q7_scale) * z, rtol=1e-4, atol=1e-6), \
        "q7_scaled is q7_scale * q7_z"

# %%
# HIDDEN
def test_q7_interpolation_and_path(q7_interpolate, q7_path, q7_decode, q7_means_ab):
    import jax
    import numpy as np

    k0, k1 = jax.random.split(jax.random.key(13))
    z0, z1 = np.asarray(jax.random.normal(k0, (7, 7, 4))), np.asarray(jax.random.normal(k1, (7, 7, 4)))
    p = q7_interpolate(z0, z1, 5)
    assert type(p) is np.ndarray and p.shape == (5, 7, 7, 4), \
        f"5 points between two [7, 7, 4] latents: an array (5, 7, 7, 4), got {type(p).__name__} {np.shape(p)}"
    p = p.astype(float)
    assert np.allclose(p[0], z0, atol=1e-5) and np.allclose(p[-1], z1, atol=1e-5), \
        "the first point is z0 and the last z1 (alpha from 0 to 1, both ends included)"
    assert np.allclose(p[2], (z0 + z1) / 2, atol=1e-5) and np.allclose(p[1], 0.75 * z0 + 0.25 * z1, atol=1e-5), \
        "with n = 5 the alphas are 0, 0.25, 0.5, 0.75, 1 and the points (1 - alpha) z0 + alpha z1"
    assert type(q7_means_ab) is np.ndarray and q7_means_ab.shape == (2, 7, 7, 4), \
        "q7_means_ab holds the two latent means [2, 7, 7, 4] that the cell above Q7's answer computes"
    assert type(q7_path) is np.ndarray and q7_path.shape == (8, 28, 28, 1), \
        f"q7_path decodes 8 latents: an array [8, 28, 28, 1], got {type(q7_path).__name__} {np.shape(q7_path)}"
    path = q7_path.astype(float)
    ends = q7_decode(q7_means_ab)  # decoded by your q6_vae, in your notebook's process
    assert type(ends) is np.ndarray and ends.shape == (2, 28, 28, 1), "decode_latents gives images [2, 28, 28, 1]"
    assert np.allclose(path[[0, -1]], ends, atol=1e-4), "q7_path starts at image a and ends at image b (their decoded means)"
    a, b = q7_means_ab[0].astype(float), q7_means_ab[1].astype(float)
    mid = q7_decode((4 / 7 * a + 3 / 7 * b)[None])
    assert type(mid) is np.ndarray and mid.shape == (1, 28, 28, 1), "decode_latents gives images [1, 28, 28, 1]"
    assert np.allclose(path[3], mid[0], atol=1e-4), "q7_path[3] decodes alpha = 3/7 of the way from a to b"

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [markdown]
# ### What the latent image holds
#
# Each image becomes a 7x7x4 latent image: four 7x7 channels. Below, four test images and the four
# channels of their scaled latent means.

# %%
latent_channels(test.images[:4], q7_scale * encode_dataset(q6_vae, test.images[:4], None))

# %% [markdown]
# *Reflect (ungraded).* Do the middle images of the interpolation look like clothes, or like two
# images faded into each other? A VAE with a larger KL weight makes the latent space smoother and the
# reconstructions blurrier: why? Latent diffusion (lab 03) trains its U-Net on `q7_scaled`-like latents:
# why does it matter that they have about unit variance when the noise it adds has variance 1?

# %% [markdown]
# Does the latent keep what the image *is*? If the shipped reference classifier is installed, it
# classifies the originals and the reconstructions (ungraded).

# %%
try:
    from genlab.metrics.reference import reference_classifier

    ref = reference_classifier()
    labels = test.labels[:500]
    acc_orig = float(np.mean(ref.predict(test.images[:500]) == labels))
    acc_recon = float(np.mean(ref.predict(q6_recon) == labels))
    print(f"reference classifier accuracy: originals {acc_orig:.1%}, reconstructions {acc_recon:.1%}")
except FileNotFoundError as err:
    print(f"(no reference classifier here: {str(err).splitlines()[0]})")
