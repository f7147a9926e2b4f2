"""The page's JavaScript unit tests (tests/js/*.test.js), run by Node's own runner as the docs type
it, `node --test tests/js/` (tests/test_docs_commands.py counts this run as that command's). Run
from pytest so that, in CI's workers, they run beside the other in-process tests."""

import shutil
import subprocess
from pathlib import Path

import pytest

JS_TESTS = Path(__file__).parent / "js"
COMMAND = ["node", "--test", "tests/js/"]  # word for word, from the repository's root


@pytest.mark.slow  # about 7-12 s: each file is a Node process, and the first asks Python for the page's setup
def test_the_page_javascript_unit_tests_pass():
    assert shutil.which("node"), "Node is not installed (.ci/run installs Debian's nodejs where it is missing)"
    run = subprocess.run(COMMAND, cwd=JS_TESTS.parents[1], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, f"node --test tests/js/ failed:\n{run.stdout[-8000:]}\n{run.stderr[-2000:]}"
