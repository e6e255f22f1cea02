"""One update rule for every sampler, with per-step numbers from each paper, computed in NumPy float64.

Each step of DDPM, DDIM and DPM-Solver++ (2M) moves from ``x_t`` (training step t = t_i) to ``x_prev``
(t' = t_{i+1}, or clean data after the last step) by a linear combination of what the network says at t:

    x_prev = c.x_t * x_t + c.x0 * x0_hat + c.eps * eps_hat + c.dx0 * (x0_hat - x0_hat_before) + c.noise * z

with ``x0_hat``/``eps_hat`` the network's estimates at this step, ``x0_hat_before`` those of the step before, and
z ~ N(0, I). Only the numbers ``c`` differ between samplers; they depend on alpha_bar at t and t' only (and, for
DPM-Solver++, at the step before), so they are computed once per (schedule, steps) in float64 and cast.
``abar_t``/``abar_prev`` below are ``[N]`` float64 arrays, with ``abar_prev = 1`` after the last step.
"""

from __future__ import annotations

import dataclasses

import numpy as np


@dataclasses.dataclass(frozen=True)
class StepCoefficients:
    """``[N]`` float64 coefficients of the update above, one entry per sampling step."""

    x_t: np.ndarray
    x0: np.ndarray
    eps: np.ndarray
    dx0: np.ndarray
    noise: np.ndarray


def _zeros(n: int) -> np.ndarray:
    return np.zeros(n, np.float64)


def ddpm_coefficients(abar_t: np.ndarray, abar_prev: np.ndarray) -> StepCoefficients:
    """Ancestral sampling from the posterior q(x_t' | x_t, x0 = x0_hat) (Ho et al. 2020, eq. 6-7), for any t' < t.

    With beta = 1 - abar_t / abar_prev (the variance added between t' and t):
    mean = sqrt(abar_prev) beta / (1 - abar_t) * x0 + sqrt(1 - beta) (1 - abar_prev) / (1 - abar_t) * x_t,
    variance = (1 - abar_prev) / (1 - abar_t) * beta ("fixed small"; 0 at the last step). This equals DDIM with
    eta = 1. With t' = t - 1 it is diffusers' DDPMScheduler step (``variance_type="fixed_small"``).
    """
    beta = 1.0 - abar_t / abar_prev
    x0 = np.sqrt(abar_prev) * beta / (1.0 - abar_t)
    x_t = np.sqrt(1.0 - beta) * (1.0 - abar_prev) / (1.0 - abar_t)
    noise = np.sqrt((1.0 - abar_prev) / (1.0 - abar_t) * beta)
    return StepCoefficients(x_t, x0, _zeros(len(x0)), _zeros(len(x0)), noise)


def ddim_coefficients(abar_t: np.ndarray, abar_prev: np.ndarray, eta: float) -> StepCoefficients:
    """DDIM (Song et al. 2021, eq. 12 and 16): x_prev = sqrt(abar_prev) x0 + sqrt(1 - abar_prev - s^2) eps + s z,
    s = eta * sqrt((1 - abar_prev) / (1 - abar_t)) * sqrt(1 - abar_t / abar_prev). eta = 0: deterministic (the
    probability-flow ODE, first order); eta = 1: DDPM's posterior. Uses the network's eps even when x0_hat is
    clipped (diffusers' default ``use_clipped_model_output=False``).
    """
    s = eta * np.sqrt((1.0 - abar_prev) / (1.0 - abar_t) * (1.0 - abar_t / abar_prev))
    eps = np.sqrt(np.maximum(1.0 - abar_prev - s**2, 0.0))
    return StepCoefficients(_zeros(len(s)), np.sqrt(abar_prev), eps, _zeros(len(s)), s)


def dpmpp_2m_coefficients(abar_t: np.ndarray, abar_prev: np.ndarray) -> StepCoefficients:
    """Multistep DPM-Solver++(2M) (Lu et al. 2022, "DPM-Solver++", Algorithm 2), data prediction, midpoint form.

    With alpha = sqrt(abar), sigma = sqrt(1 - abar), lambda = log(alpha / sigma) and h_i = lambda_{t'} - lambda_t:

        x_prev = (sigma_t' / sigma_t) x_t + alpha_t' (1 - e^{-h_i}) [x0_hat + 1/(2 r_i) (x0_hat - x0_hat_before)],

    r_i = h_{i-1} / h_i. As diffusers' DPMSolverMultistepScheduler (``algorithm_type="dpmsolver++"``,
    ``solver_order=2``, ``solver_type="midpoint"``, ``final_sigmas_type="zero"``), the first step (no history) and
    the last step (to sigma = 0, ``lower_order_final``) are first order, i.e. DDIM steps. ``alpha_t' (1 - e^{-h})``
    is written ``alpha_t' - sigma_t' alpha_t / sigma_t``, finite when sigma_t' = 0 or alpha_t = 0 (zero SNR).
    """
    n = len(abar_t)
    alpha_s, sigma_s = np.sqrt(abar_t), np.sqrt(1.0 - abar_t)
    alpha_t, sigma_t = np.sqrt(abar_prev), np.sqrt(1.0 - abar_prev)
    x_t = sigma_t / sigma_s
    x0 = alpha_t - sigma_t * alpha_s / sigma_s  # = alpha_t (1 - e^{-h})
    with np.errstate(divide="ignore", invalid="ignore"):
        lam_s, lam_t = np.log(alpha_s) - np.log(sigma_s), np.log(alpha_t) - np.log(sigma_t)
        h = lam_t - lam_s  # [N]; inf at the last step
        half_inv_r = 0.5 * h[1:] / h[:-1]  # 1 / (2 r_i) for i >= 1; 0 after a zero-SNR first step (h_0 = inf)
    second_order = np.zeros(n, bool)
    second_order[1:-1] = True  # first step: no history; last step: lower_order_final
    dx0 = np.zeros(n)
    dx0[1:] = np.where(second_order[1:], x0[1:] * np.nan_to_num(half_inv_r, posinf=0.0), 0.0)
    return StepCoefficients(x_t, x0, _zeros(n), dx0, _zeros(n))


def coefficients(sampler: str, abar_t: np.ndarray, abar_prev: np.ndarray, eta: float = 0.0) -> StepCoefficients:
    """The coefficients of ``sampler`` ("ddpm", "ddim" or "dpmpp_2m")."""
    abar_t, abar_prev = np.asarray(abar_t, np.float64), np.asarray(abar_prev, np.float64)
    if sampler == "ddpm":
        return ddpm_coefficients(abar_t, abar_prev)
    if sampler == "ddim":
        return ddim_coefficients(abar_t, abar_prev, eta)
    if sampler == "dpmpp_2m":
        return dpmpp_2m_coefficients(abar_t, abar_prev)
    raise ValueError(f"unknown sampler {sampler!r}: choose one of ddpm, ddim, dpmpp_2m")
