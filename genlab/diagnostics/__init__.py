"""Diagnostics: what went wrong in a training run (``gan.diagnose``) and toy games that explain it (``dirac``)."""
