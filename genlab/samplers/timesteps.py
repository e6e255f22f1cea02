"""Which training steps a sampler visits: the ``leading``, ``trailing`` and ``linspace`` spacings of diffusers.

A sampler with ``n`` steps visits ``n`` of the ``T`` training steps, from noisy to clean; each step moves from
``t_i`` to the next visited step ``t_{i+1}``, and the last one to "t = -1", where alpha_bar = 1 (the clean data;
diffusers' ``set_alpha_to_one=True``). The three spacings are those of diffusers' DDIMScheduler/DDPMScheduler
``set_timesteps`` (Lin et al. 2023, Table 2), for T = 1000 and n = 50:

- ``leading``:  ``arange(n) * (T // n)``, reversed, plus ``steps_offset``  ->  980, 960, ..., 20, 0
- ``trailing``: ``round(arange(T, 0, -T / n)) - 1``                      ->  999, 979, ..., 39, 19
- ``linspace``: ``round(linspace(0, T - 1, n))``, reversed                ->  999, 979, 958, ..., 20, 0

The pitfall: ``leading`` (diffusers' DDIM default, and Stable Diffusion's with ``steps_offset=1``: 981 ... 1)
never visits the last training step. Sampling starts at t = 980 with x_T ~ N(0, I), but at t = 980 the training
data were not pure noise (alpha_bar_980 > 0, and with a zero-SNR schedule the difference is large), so the first
step already starts from the wrong distribution; with few steps it is worse (n = 10: from t = 900). ``trailing``
starts at T - 1 and is the default here; Lin et al. (sec. 3.3) recommend it.

DPM-Solver++ follows diffusers' DPMSolverMultistepScheduler, whose ``linspace`` and ``leading`` use a grid of
``n + 1`` points and drop the last (``multistep=True``): ``round(linspace(0, T - 1, n + 1))[::-1][:-1]`` ->
999, 979, ..., 20 for n = 50, and ``arange(n + 1) * (T // (n + 1))``, reversed, without the last -> 950, ..., 19
(the leading pitfall, worse). Neither visits t = 0 before the final jump to clean data, which a second-order
multistep solver needs: after a small step at t = 20 -> 0 its extrapolation over the long last stretch of
log-SNR overshoots. Its ``trailing`` is the same as above.

Two deviations from diffusers: ``trailing`` is computed as ``round(T - arange(n) * T / n) - 1``, which equals
diffusers' first ``n`` values but never returns ``n + 1`` of them (diffusers' floating-point ``arange`` does
for some n, e.g. 61); and every sampler here steps to the next visited step, whereas diffusers' DDIMScheduler
steps from t to ``t - T // n`` whatever the spacing (the same for ``leading``/``trailing`` when n divides T, not
for ``linspace``; DDPMScheduler and DPMSolverMultistepScheduler step to the next visited step, as here).
"""

from __future__ import annotations

import numpy as np

SPACINGS = ("leading", "trailing", "linspace")


def timesteps(steps: int, num_timesteps: int = 1000, spacing: str = "trailing", steps_offset: int = 0, *,
              multistep: bool = False) -> np.ndarray:
    """The ``[steps]`` int64 training steps a sampler visits, descending (noisy to clean).

    ``multistep=True``: DPMSolverMultistepScheduler's ``n + 1`` grids for ``linspace`` and ``leading``.
    """
    if spacing not in SPACINGS:
        raise ValueError(f"unknown timestep spacing {spacing!r}: choose one of {', '.join(SPACINGS)}")
    if not 1 <= steps <= num_timesteps:
        raise ValueError(f"steps must be in 1..{num_timesteps} (the training steps), got {steps}")
    n = steps + 1 if multistep else steps  # grid points; with multistep the last (t = 0) is dropped
    if spacing == "leading":
        ts = (np.arange(n) * (num_timesteps // n)).round()[::-1][:steps] + steps_offset
    elif spacing == "trailing":
        ts = np.round(num_timesteps - np.arange(steps) * (num_timesteps / steps)) - 1
    else:
        ts = np.linspace(0, num_timesteps - 1, n).round()[::-1][:steps]
    ts = ts.astype(np.int64)
    if len(np.unique(ts)) != steps:
        raise ValueError(f"{steps} steps are too many for {spacing!r} spacing over {num_timesteps} training steps")
    if ts.max() >= num_timesteps or ts.min() < 0:
        raise ValueError(f"steps_offset={steps_offset} moves the {spacing} steps out of 0..{num_timesteps - 1}")
    return ts


def previous_timesteps(ts: np.ndarray) -> np.ndarray:
    """Where each step goes: the next visited step, and -1 (clean data, alpha_bar = 1) after the last."""
    return np.concatenate([ts[1:], [-1]]).astype(np.int64)
