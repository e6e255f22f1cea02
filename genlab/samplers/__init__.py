"""Samplers turn a trained model into samples: GAN sampling (``gan``) now; DDPM/DDIM/DPM-Solver++ and ODE
solvers next. Whole loops run under ``lax.scan`` with a static number of steps."""
