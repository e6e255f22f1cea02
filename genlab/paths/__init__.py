"""Flow-matching probability paths ``x_t = a_t x1 + b_t x0``, couplings of ``(x0, x1)`` pairs, and the exact
(oracle) velocity, score and posterior mean of Gaussian-mixture data.

Rooms: ``affine`` (the OT, cosine and VP paths; conversions between velocity, ε, data and score predictions),
``couplings`` (independent; minibatch exact OT), ``oracle`` (closed forms for any Gaussian mixture).
"""
