"""Samplers turn a trained model into samples: GAN sampling (``gan``) now; DDPM/DDIM/DPM-Solver++ next.
Whole loops run under ``lax.scan`` with a static number of steps.

Flows: ``ode`` (Euler, midpoint, Heun, RK4 with exact NFE; Dopri5 through diffrax; classifier-free guidance),
``likelihood`` (log p by the instantaneous change of variables, exact or Hutchinson divergence),
``reflow`` (rectified-flow pairs and the straightness of trajectories).
"""
