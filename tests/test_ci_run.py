"""The gate (`bash .ci/run`, which sets MNIST_GATE) runs every collected test: a run narrowed by
an option, or by a plugin's own selection after collection, is refused with a sentence."""

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
QUICK_FILE = "tests/test_ci_pins.py"  # a few fast tests to collect

# A plugin that drops the collection's first test, as --lf or a third-party plugin would.
DROPPER = """
def pytest_collection_modifyitems(config, items):
    dropped, items[:] = items[:1], items[1:]
    config.hook.pytest_deselected(items=dropped)
"""


def gate_run(*args, tmp_path, gate=True):
    env = {k: v for k, v in os.environ.items() if k not in ("MNIST_GATE", "PYTEST_ADDOPTS")}
    if gate:
        env["MNIST_GATE"] = "1"
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path), env.get("PYTHONPATH", "")])
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", QUICK_FILE, *args],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=300)


def test_the_gate_refuses_a_narrowing_option(tmp_path):
    done = gate_run("-k", "pins", tmp_path=tmp_path)
    assert done.returncode != 0 and "runs every test: no -m, -k or --deselect" in done.stdout + done.stderr


def test_the_gate_refuses_a_deselection_made_after_collection(tmp_path):
    (tmp_path / "dropper.py").write_text(DROPPER)
    done = gate_run("-p", "dropper", tmp_path=tmp_path)
    assert done.returncode == 4, done.stdout + done.stderr
    assert "runs every test: 1 were deselected" in done.stdout + done.stderr
    outside = gate_run("-p", "dropper", tmp_path=tmp_path, gate=False)  # outside the gate: allowed
    assert outside.returncode == 0 and "1 deselected" in outside.stdout, outside.stdout + outside.stderr
