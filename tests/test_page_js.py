"""The page's JavaScript unit tests (tests/js/*.test.js), run by Node's own runner, `node --test`.
Run from pytest so that, in CI's two workers, they run on the worker that is not driving Chromium,
beside the other in-process tests. `node --test tests/js/` runs them alone, in seconds."""

import shutil
import subprocess
from pathlib import Path

import pytest

JS_TESTS = Path(__file__).parent / "js"


@pytest.mark.slow  # about 7-12 s: each file is a Node process, and the first asks Python for the page's setup
def test_the_page_javascript_unit_tests_pass():
    node = shutil.which("node")
    assert node, "Node is not installed (.ci/run installs Debian's nodejs where it is missing)"
    run = subprocess.run([node, "--test", "--test-reporter=dot", str(JS_TESTS)], cwd=JS_TESTS.parents[1],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, f"node --test tests/js/ failed:\n{run.stdout[-8000:]}\n{run.stderr[-2000:]}"
