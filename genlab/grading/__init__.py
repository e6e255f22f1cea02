"""Graded labs on otter-grader: ``genlab assign`` builds, ``genlab grade`` grades.

- ``labs``      find lab masters (``labs/NN_name.py``) and check their opening term table
- ``assign``    master -> student notebook + autograder bundle (via jupytext and otter assign)
- ``private``   merge an instructor's private hidden tests into a bundle
- ``bundle``    read an autograder bundle: questions, points, tests
- ``install``   genlab's wheel for the student folder, and the setup cell's lines that install it
- ``sandbox``   grade one submission: the student side isolated, the verdicts here
- ``process``   the student's process as the grader drives it (messages, output, limits, its end)
- ``isolation`` OS isolation of the student's process (mount, pid, net namespaces; nobody)
- ``channel``   the no-pickle plain-data format between the two sides
- ``verdict``   the trusted side: run the tests, student functions as proxies
- ``settings``  grading settings (the preset) on the grader's side
- ``harness``   the student side: execute the cells, answer the grader's requests
- ``guard``     audit hook (files, processes) and snapshots of trusted modules for the child
- ``results``   per-question points, CSV rows, feedback, Gradescope ``results.json``
- ``grade``     grade a batch of submissions
- ``commands``  the ``assign`` and ``grade`` subcommands of the ``genlab`` CLI

Nothing here imports JAX or otter at import time: the CLI stays fast.
"""
