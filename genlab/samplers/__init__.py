"""Samplers turn a trained model into samples. Whole loops run under ``lax.scan`` with a static number of steps.

- GANs: ``gan`` (the one GAN sampler); one-step denoising: ``denoise``.
- Diffusion: ``diffusion`` (SamplerConfig, sample: DDPM, DDIM, DPM-Solver++ (2M) with classifier-free guidance,
  one compiled scan), ``timesteps`` (the diffusers spacings leading / trailing / linspace), ``updates`` (each
  sampler's per-step coefficients in float64), ``guidance`` (the one CFG convention).
- Flows: ``ode`` (Euler, midpoint, Heun, RK4 with exact NFE; Dopri5 through diffrax; classifier-free guidance),
  ``likelihood`` (log p by the instantaneous change of variables, exact or Hutchinson divergence),
  ``reflow`` (rectified-flow pairs and the straightness of trajectories).
"""
