"""XLA flags some experiments run with (``genlab.experiments.register(..., xla_flags=...)``); ``genlab eval`` and
``genlab ship`` add them to ``$XLA_FLAGS`` before JAX's backend starts (``genlab.presets.add_xla_flags``)."""

# XLA:CPU (jaxlib 0.10) runs a U-Net's dots, elementwise and reduction fusions through YNNPACK by default. With
# YNNPACK for dots only (XLA's own elementwise and reduction fusions) the latent text-to-image U-Net's train step
# takes 138-143 ms against 178-206 ms (interleaved runs on this 2-core machine; no YNNPACK at all: 146-164 ms),
# 64 images at 50 guided steps 1.65-1.99 s against 2.14-2.28 s, the 28x28 pixel denoiser 146 against 140-157 ms.
# A 2D MLP field is faster with the default (2.9-3.1 against 3.3-3.6 ms per step), so only the U-Net experiments
# ask for it. CPU only; GPU backends ignore it.
CONV_XLA_FLAGS = ("--xla_cpu_experimental_ynn_fusion_type=dot",)
