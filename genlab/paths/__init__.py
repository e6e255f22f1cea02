"""Flow-matching probability paths ``x_t = a_t x1 + b_t x0``, couplings of ``(x0, x1)`` pairs, and the exact
(oracle) velocity, score and posterior mean of Gaussian-mixture data."""
