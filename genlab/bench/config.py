"""The benchmark's config tree: which models (the experiments' own configs), how much work, how many repeats."""

from __future__ import annotations

import dataclasses

from genlab.experiments.flow2d import Flow2DConfig
from genlab.experiments.latent_diffusion import LatentDiffusionConfig
from genlab.experiments.unet_skip import UNetSkipConfig

PARTS = ("train_step", "sampling", "flow2d", "limit", "growth")


@dataclasses.dataclass(frozen=True)
class Repeats:
    """Untimed calls first (compilation, caches), then timed calls; the median is reported."""

    warmup: int = 3
    repeats: int = 20


@dataclasses.dataclass(frozen=True)
class SamplingBench:
    prompts: int = 64
    steps: int = 50  # DDIM steps (each a U-Net call on the doubled batch: guidance)
    guidance: float = 5.0
    timing: Repeats = Repeats(1, 5)


@dataclasses.dataclass(frozen=True)
class FlowBench:
    dataset: str = "ring8"  # a Gaussian mixture (the PyTorch side draws ring8 or grid25)
    chunk_steps: int = 200  # training steps per timed call; timed calls interleave genlab and torchcfm
    train_timing: Repeats = Repeats(1, 10)  # 1 warm-up chunk, then 10 timed chunks (2,000 steps) per side
    samples: int = 2500  # Dopri5 sampling batch
    rtol: float = 1e-5  # both solvers (genlab.samplers.ode.dopri5's defaults)
    atol: float = 1e-5
    sample_timing: Repeats = Repeats(1, 5)


@dataclasses.dataclass(frozen=True)
class GrowthBench:
    sizes: tuple[int, ...] = (28, 32, 64)  # image side, pixels (the pixel denoiser U-Net)
    batches: tuple[int, ...] = (8, 16, 32, 64, 128)
    timing: Repeats = Repeats(2, 5)


@dataclasses.dataclass(frozen=True)
class BenchConfig:
    """The models are the experiments' presets: the latent text-to-image U-Net and optimiser of
    ``latent-diffusion``, the 28x28 denoiser of ``unet-skip``, the 2D field of ``flow-2d``."""

    latent: LatentDiffusionConfig = LatentDiffusionConfig()
    pixel: UNetSkipConfig = UNetSkipConfig()
    flow_model: Flow2DConfig = Flow2DConfig()
    train_timing: Repeats = Repeats()
    sampling: SamplingBench = SamplingBench()
    flow: FlowBench = FlowBench()
    growth: GrowthBench = GrowthBench()
    matmul_n: int = 2048  # [n, n] @ [n, n] for the peak

    @classmethod
    def tiny(cls) -> BenchConfig:
        return cls(latent=LatentDiffusionConfig.tiny(), pixel=UNetSkipConfig.tiny(), flow_model=Flow2DConfig.tiny(),
                   train_timing=Repeats(1, 2), sampling=SamplingBench(prompts=2, steps=3, timing=Repeats(1, 1)),
                   flow=FlowBench(chunk_steps=5, train_timing=Repeats(1, 1), samples=32, sample_timing=Repeats(1, 1)),
                   growth=GrowthBench(sizes=(28, 32), batches=(2,), timing=Repeats(1, 1)), matmul_n=128)

    @classmethod
    def cpu(cls) -> BenchConfig:
        return cls()

    @classmethod
    def gpu(cls) -> BenchConfig:
        return cls(latent=LatentDiffusionConfig.gpu(), pixel=UNetSkipConfig.gpu(), flow_model=Flow2DConfig.gpu(),
                   growth=GrowthBench(batches=(16, 32, 64, 128, 256)), matmul_n=8192)
