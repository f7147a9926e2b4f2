"""Every benchmark answers --help and exits 0, in process through the parser it builds (no
subprocess: importing the module is what its process would do first anyway). The other entry
points' --help: the trainer's in test_train.py, app.py's (which builds the whole app when
imported) in test_lan.py."""

import importlib
from pathlib import Path

import pytest

# The benchmarks run with -m (their shared helpers, such as seven.py, have no command line).
BENCHMARKS = sorted(p.stem for p in (Path(__file__).resolve().parents[1] / "benchmarks").glob("*.py")
                    if 'if __name__ == "__main__":' in p.read_text())


@pytest.mark.parametrize("name", BENCHMARKS)
def test_every_benchmark_answers_help(name, capsys):
    module = importlib.import_module(f"benchmarks.{name}")
    with pytest.raises(SystemExit) as exit_:
        module.parser().parse_args(["--help"])
    assert exit_.value.code == 0
    out = " ".join(capsys.readouterr().out.split())
    assert out.startswith("usage: ") and " ".join(module.__doc__.split()[:6]) in out  # what it measures
