"""The setup cell at the top of every generated notebook, and what it calls.

The cell installs genlab where it is missing (Colab) from the wheel that ``genlab assign`` puts beside
the notebook (:mod:`genlab.grading.install`; no repository URL), writes the lab's public tests to
``./tests`` (so ``grader.check`` works wherever the notebook was opened, even without its
folder), and creates otter's ``grader``. It is harmless offline when genlab is installed.
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
import otter
grader = otter.Notebook(tests_dir="tests")'''


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


def setup_cell_source(public_tests: dict[str, str]) -> str:
    return _TEMPLATE.format(install=INSTALL_SNIPPET, blob=pack_tests(public_tests))
