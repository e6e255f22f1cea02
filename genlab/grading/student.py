"""The setup cell at the top of every generated notebook, and what it calls.

The cell installs genlab where it is missing (Colab) from the wheel that ``genlab assign`` puts beside
the notebook (:mod:`genlab.grading.install`; no repository URL), writes the lab's public tests to
``./tests`` (so ``grader.check`` works wherever the notebook was opened, even without its
folder), and creates otter's ``grader`` (whose checks see the answers as plain data, as grading does). It is harmless offline when genlab is installed.
The grader skips it (tag ``genlab_setup``).
"""

from __future__ import annotations

import base64
import json
import zlib
from pathlib import Path

from genlab.grading.install import INSTALL_SNIPPET

SETUP_TAG = "genlab_setup"

_TEMPLATE = '''\
# Setup: run this cell first. It installs genlab where it is missing (e.g. on Colab, from the genlab-*.whl
# beside this notebook), writes this lab's public tests to ./tests, and creates `grader`
# (use grader.check("q1") after each answer).
{install}
from genlab.grading.student import write_public_tests
write_public_tests({blob!r})
from genlab.grading.student import local_grader
grader = local_grader("tests")'''


def pack_tests(tests: dict[str, str]) -> str:
    """{file name: source} -> a compact ASCII string for the setup cell."""
    return base64.b64encode(zlib.compress(json.dumps(tests, sort_keys=True).encode(), 9)).decode()


def unpack_tests(blob: str) -> dict[str, str]:
    return json.loads(zlib.decompress(base64.b64decode(blob)))


def write_public_tests(blob: str, directory: str | Path = "tests") -> list[Path]:
    """Write the packed public tests to ``directory`` (only files whose content differs)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, source in unpack_tests(blob).items():
        path = directory / Path(name).name
        if not path.is_file() or path.read_text() != source:
            path.write_text(source)
            written.append(path)
    return written


def local_grader(tests_dir: str = "tests"):
    """otter's ``Notebook`` whose ``check`` shows the tests the notebook's answers as plain data, exactly as
    grading does (:mod:`genlab.grading.verdict`): a public test passes here if and only if it passes there."""
    import sys

    import otter

    class Notebook(otter.Notebook):
        def check(self, question, global_env=None):
            from genlab.grading.verdict import PlainView

            if global_env is None:
                global_env = sys._getframe(1).f_globals
            return super().check(question, global_env=PlainView(global_env))

    return Notebook(tests_dir=tests_dir)


def setup_cell_source(public_tests: dict[str, str]) -> str:
    return _TEMPLATE.format(install=INSTALL_SNIPPET, blob=pack_tests(public_tests))
