"""What ``import gradio`` costs a process with Gradio's stub writer skipped (mnist_demo/gradio_stubs.py,
installed by importing ``mnist_demo`` first, as the app does) against Gradio as it comes, and what
the whole app's start costs each way: CPU seconds (user + system) of fresh processes, alternating,
medians, in one run.

    python -m benchmarks.gradio_import [--rounds 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys

from .harness.launcher import run_cpu_seconds

# The app's start short of serving: what app.py imports, and its tabs built.
APP = "import spaces, torch; from mnist_demo.settings import from_process; from mnist_demo.ui import build_demo; " \
      "build_demo(settings=from_process())"
WAYS = {
    "import gradio": {"as it comes": "import gradio", "stubs skipped": "import mnist_demo, gradio"},
    "the app's start (its imports and build_demo)": {
        "as it comes": "from mnist_demo import gradio_stubs; gradio_stubs.remove(); " + APP,
        "stubs skipped": APP},
}


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m benchmarks.gradio_import", description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=5, help="alternating rounds (this machine is noisy): medians")
    return p


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    for what, ways in WAYS.items():
        times: dict[str, list[float]] = {way: [] for way in ways}
        for _ in range(args.rounds):
            for way, code in ways.items():
                times[way].append(run_cpu_seconds([sys.executable, "-c", code], {"OMP_NUM_THREADS": "1"}))
        plain, skipped = (statistics.median(times[w]) for w in ways)
        print(f"{what}: {plain:.2f} CPU-s as it comes, {skipped:.2f} with the stubs skipped "
              f"({skipped / plain:.2f}x, {plain - skipped:.2f} CPU-s less; medians of {args.rounds})")


if __name__ == "__main__":
    main()
