"""DiracGAN (Mescheder, Geiger & Nowozin 2018, §2.2): the smallest GAN that does not converge.

Generator p_θ = δ_θ (all mass at θ), discriminator D_ψ(x) = ψ·x, real data δ_0. The game is
L(θ, ψ) = f(ψθ) + f(0) with f(t) = −log(1 + exp(−t)), so f'(t) = σ(−t) and f'(0) = 1/2.
G descends L, D ascends it; the gradient vector field is

    v(θ, ψ) = ( −ψ f'(ψθ),  θ f'(ψθ) − γψ )          saturating loss, R1/gradient penalty γ/2·ψ²
    v(θ, ψ) = ( −ψ f'(−ψθ), θ f'(ψθ) − γψ )          non-saturating generator loss −f(−ψθ)

Its Jacobian at the equilibrium (0, 0) is [[0, −1/2], [1/2, −γ]]: eigenvalues ±0.5i for γ = 0
(no convergence for gradient descent), −γ/2 ± i·√(1 − γ²)/2 = −0.15 ± 0.477i for γ = 0.3.
shared/REFERENCES.md lists ‖(θ, ψ)‖ after 50/500/5000 steps of size 0.1 from (1, 1).
Alternating updates move θ first, then ψ with the new θ.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

MODES = ("simultaneous", "alternating")
LOSSES = ("saturating", "non_saturating")


def f_prime(t: jax.Array) -> jax.Array:
    """f'(t) for f(t) = −log(1 + exp(−t)): σ(−t)."""
    return jax.nn.sigmoid(-t)


def _check(loss: str, mode: str = "simultaneous") -> None:
    if loss not in LOSSES:
        raise ValueError(f"unknown DiracGAN loss {loss!r}: choose one of {', '.join(LOSSES)}")
    if mode not in MODES:
        raise ValueError(f"unknown update mode {mode!r}: choose one of {', '.join(MODES)}")


def theta_velocity(theta, psi, loss: str = "saturating"):
    """−∂L_G/∂θ: the generator's descent direction."""
    t = psi * theta
    return -psi * f_prime(-t if loss == "non_saturating" else t)


def psi_velocity(theta, psi, gamma: float = 0.0):
    """∂L/∂ψ − γψ: the discriminator's ascent direction with penalty γ/2·ψ² (R1 and R2 agree here)."""
    return theta * f_prime(psi * theta) - gamma * psi


def vector_field(theta, psi, loss: str = "saturating", gamma: float = 0.0):
    """v(θ, ψ) = (θ', ψ') for arrays of any (matching) shape."""
    _check(loss)
    return theta_velocity(theta, psi, loss), psi_velocity(theta, psi, gamma)


def jacobian_at_equilibrium(loss: str = "saturating", gamma: float = 0.0) -> jax.Array:
    """[2, 2] Jacobian of v at (0, 0); its eigenvalues decide local convergence."""
    _check(loss)
    v = lambda p: jnp.stack(vector_field(p[0], p[1], loss, gamma))
    return jax.jacfwd(v)(jnp.zeros(2))


@functools.partial(jax.jit, static_argnames=("steps", "mode", "loss"))
def simulate(steps: int, lr: float = 0.1, mode: str = "simultaneous", loss: str = "saturating",
             gamma: float = 0.0, start=(1.0, 1.0)) -> jax.Array:
    """Gradient-descent trajectory of the DiracGAN game: [steps + 1, 2] rows (θ, ψ), row 0 = start."""
    _check(loss, mode)

    def step(p, _):
        theta, psi = p[0], p[1]
        if mode == "simultaneous":
            theta, psi = theta + lr * theta_velocity(theta, psi, loss), psi + lr * psi_velocity(theta, psi, gamma)
        else:  # alternating: G moves, then D answers the new θ
            theta = theta + lr * theta_velocity(theta, psi, loss)
            psi = psi + lr * psi_velocity(theta, psi, gamma)
        p = jnp.stack([theta, psi])
        return p, p

    p0 = jnp.asarray(start, jnp.float32)
    _, path = jax.lax.scan(step, p0, None, length=steps)
    return jnp.concatenate([p0[None], path], axis=0)


# The four runs of shared/REFERENCES.md (DiracGAN table): name -> simulate() keyword arguments.
REFERENCE_RUNS: dict[str, dict] = {
    "GAN, simultaneous": dict(mode="simultaneous", loss="saturating", gamma=0.0),
    "GAN, alternating": dict(mode="alternating", loss="saturating", gamma=0.0),
    "non-saturating GAN, simultaneous": dict(mode="simultaneous", loss="non_saturating", gamma=0.0),
    "GAN + gradient penalty 0.3, simultaneous": dict(mode="simultaneous", loss="saturating", gamma=0.3),
}


def norms_after(checkpoints=(50, 500, 5000), lr: float = 0.1) -> dict[str, list[float]]:
    """‖(θ, ψ)‖ after each number of steps for every reference run (the REFERENCES.md table)."""
    out = {}
    for name, kw in REFERENCE_RUNS.items():
        path = simulate(max(checkpoints), lr, **kw)
        out[name] = [float(jnp.linalg.norm(path[n])) for n in checkpoints]
    return out
