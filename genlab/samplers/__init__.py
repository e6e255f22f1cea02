"""Samplers turn a trained model into samples: GAN sampling (``gan``) now; DDPM/DDIM/DPM-Solver++ and ODE
solvers next. Whole loops run under ``lax.scan`` with a static number of steps.

Diffusion rooms: ``diffusion`` (SamplerConfig, sample: DDPM, DDIM, DPM-Solver++ (2M) with classifier-free
guidance, one compiled scan), ``timesteps`` (the diffusers spacings leading / trailing / linspace), ``updates``
(each sampler's per-step coefficients in float64), ``guidance`` (the one CFG convention).
"""
