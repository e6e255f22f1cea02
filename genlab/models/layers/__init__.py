"""Layers every model may use: convolutional blocks and the time embedding (``blocks``), attention
(``attention``), and the minibatch standard deviation feature (``minibatch``). Modules without maths
beyond their own forward pass; nothing here knows about a loss or a sampler."""
