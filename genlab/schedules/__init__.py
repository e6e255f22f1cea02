"""Diffusion noise schedules: ``alpha_bar``, ``sigma``, SNR and the forward noising ``q(x_t | x_0)``.
Computed in NumPy float64, then cast (shared/STYLE.md, habit 9)."""
