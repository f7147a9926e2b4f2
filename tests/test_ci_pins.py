""".ci/pins_met.py: .ci/run asks pip only when a pin is not met, so a wrong answer of "met" would
leave CI on the wrong versions. Held to what this Python really has installed."""

import importlib.util
from importlib.metadata import version
from pathlib import Path

import pytest

spec = importlib.util.spec_from_file_location("pins_met", Path(__file__).parents[1] / ".ci" / "pins_met.py")
pins_met = importlib.util.module_from_spec(spec)
spec.loader.exec_module(pins_met)

PYTEST = f"pytest=={version('pytest')}"


@pytest.mark.parametrize("lines, met", [
    ([PYTEST], True),
    ([PYTEST + "  # a comment", "# only a comment", ""], True),
    (["pytest==0.0.1"], False),  # installed, at another version
    (["no-such-package-here==1.0"], False),  # not installed
    (['no-such-package-here==1.0; python_version < "3"', PYTEST], True),  # not for this Python
    (["-r base.txt"], False),  # an included file's unmet pin counts
])
def test_met_only_when_every_pin_for_this_python_is_installed(tmp_path, lines, met):
    (tmp_path / "base.txt").write_text("pytest==0.0.1\n")
    (tmp_path / "req.txt").write_text("\n".join(lines) + "\n")
    assert pins_met.main(str(tmp_path / "req.txt")) == (0 if met else 1)


def test_the_projects_own_files_are_read():
    """Every line of requirements-dev.txt, and of requirements.txt through its -r, parses: a line
    the check could not read would send every CI run to pip."""
    from packaging.requirements import Requirement

    root = Path(__file__).parents[1]
    names = {Requirement(line).name for line in pins_met.pins(root / "requirements-dev.txt")}
    assert {"pytest", "gradio", "torch"} <= names
