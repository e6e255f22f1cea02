"""Diffusion noise schedules: ``alpha_bar``, ``sigma``, SNR and the forward noising ``q(x_t | x_0)``.
Computed in NumPy float64, then cast (shared/STYLE.md, habit 9).

Rooms: ``diffusion`` (ScheduleConfig, Schedule, make_schedule: linear, scaled_linear, cosine, the zero-terminal-SNR
rescale; q_sample), ``predictions`` (what the network predicts, eps / x0 / v, and the conversions between them).
"""
