"""``genlab bench``: genlab against the PyTorch tools a user would pick instead, side by side on one machine.

Five measurements (issue 14), each a module:

- ``train_step``: genlab's U-Net train step (the latent text-to-image configuration and the 28x28 pixel
  denoiser) against the same architecture in PyTorch (``torch_ports``), same batch, optimiser and schedule;
  also the *limit*: the step's FLOPs from XLA's cost analysis over the measured matmul peak (``timing``);
- ``sampling``: 50 guided DDIM steps for 64 prompts, genlab's compiled loop against diffusers' ``DDIMScheduler``
  driving the PyTorch port step by step, on the same weights and noise (the cross-check of the numerics);
- ``flow``: 2D flow matching, genlab's training loop against torchcfm's ``ConditionalFlowMatcher`` with the same
  MLP, and adaptive Dopri5 sampling (diffrax against torchdiffeq, same tolerances) with NFE;
- growth (in ``train_step``): step time against batch size and image size, drawn by ``genlab.figures.bench``.

``run`` puts them together into one JSON-ready dict and a markdown table (``genlab bench --json``). A peer that
is not installed is reported as skipped with the install command (``peers``); genlab's side always runs.
Sizes live in the presets of :class:`genlab.bench.config.BenchConfig`.
"""
