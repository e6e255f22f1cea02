"""DiracGAN simulator against the shared/REFERENCES.md table (Mescheder et al. 2018)."""

import numpy as np
import pytest

from genlab.diagnostics import dirac

# ‖(θ, ψ)‖ after 50 / 500 / 5000 steps of size 0.1 from (1, 1): shared/REFERENCES.md, DiracGAN.
TABLE = {
    "GAN, simultaneous": (1.51, 2.25, 3.63),
    "GAN, alternating": (1.40, 1.42, 1.38),
    "non-saturating GAN, simultaneous": (1.01, 0.52, 0.44),
    "GAN + gradient penalty 0.3, simultaneous": (0.52, 9e-4, 0.0),
}


def test_norms_match_the_reference_table():
    got = dirac.norms_after((50, 500, 5000))
    assert set(got) == set(TABLE)
    for name, expected in TABLE.items():
        for g, e in zip(got[name], expected):
            assert abs(g - e) <= max(0.006, 0.05 * e) or (e == 0.0 and g < 1e-6), (name, got[name], expected)


def test_jacobian_eigenvalues():
    eig = np.sort_complex(np.linalg.eigvals(np.asarray(dirac.jacobian_at_equilibrium("saturating", 0.0))))
    np.testing.assert_allclose(eig, [-0.5j, 0.5j], atol=1e-6)
    eig = np.sort_complex(np.linalg.eigvals(np.asarray(dirac.jacobian_at_equilibrium("saturating", 0.3))))
    np.testing.assert_allclose(eig, [-0.15 - 0.477j, -0.15 + 0.477j], atol=1e-3)
    # The non-saturating loss has the same linearisation: it cannot converge either.
    eig = np.linalg.eigvals(np.asarray(dirac.jacobian_at_equilibrium("non_saturating", 0.0)))
    np.testing.assert_allclose(np.real(eig), 0.0, atol=1e-6)


def test_trajectory_shape_and_start():
    path = np.asarray(dirac.simulate(10, mode="alternating"))
    assert path.shape == (11, 2)
    np.testing.assert_array_equal(path[0], [1.0, 1.0])
    # one simultaneous step by hand: θ' = −ψ σ(−ψθ), ψ' = θ σ(−ψθ)
    s = 1 / (1 + np.e)
    np.testing.assert_allclose(np.asarray(dirac.simulate(1))[1], [1 - 0.1 * s, 1 + 0.1 * s], rtol=1e-6)


def test_unknown_names_are_clear_errors():
    with pytest.raises(ValueError, match="choose one of"):
        dirac.simulate(5, mode="sideways")
    with pytest.raises(ValueError, match="choose one of"):
        dirac.vector_field(0.0, 0.0, loss="wasserstein")
