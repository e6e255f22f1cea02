"""Graded labs on otter-grader: ``genlab assign`` builds, ``genlab grade`` grades.

- ``labs``      find lab masters (``labs/NN_name.py``) and check their opening term table
- ``assign``    master -> student notebook + autograder bundle (via jupytext and otter assign)
- ``private``   merge an instructor's private hidden tests into a bundle
- ``bundle``    read an autograder bundle: questions, points, tests
- ``install``   genlab's wheel for the student folder, and the setup cell's lines that install it
- ``sandbox``   run one submission in its own process (time, memory, files) and collect results
- ``harness``   the child side: execute the cells, restore trusted modules, run the tests
- ``guard``     audit hook (files, processes) and snapshots of trusted modules for the child
- ``results``   per-question points, CSV rows, feedback, Gradescope ``results.json``
- ``grade``     grade a batch of submissions
- ``commands``  the ``assign`` and ``grade`` subcommands of the ``genlab`` CLI

Nothing here imports JAX or otter at import time: the CLI stays fast.
"""
