"""MNIST from its four .gz files against the decoded cache (mnist_demo/data.py), measured in one run.

Part 1, in process: gunzipping the four IDX files against reading the same uint8 arrays from the
cache (data/mnist-idx.npz), alternating, medians of --rounds.

Part 2, whole process: `python -m mnist_demo.train --model linear --dry-run` (python's start,
imports, MNIST, one tiny epoch, nothing written) with no cache (MNIST_DATA_DIR where none can be
written: every run gunzips, as before the cache) against a warm one, alternating, medians.
--fast times the full `--preset fast --target-acc 0.95` command the same way (slow: it trains).

Part 3, whole process, CPU seconds: the same dry run (warm cache) as it exits, everything alive
frozen first (`gc.freeze()` in train.py), against the same with that freeze made a no-op, so the
interpreter's last garbage collection walks torch's objects again, alternating, medians.

    MNIST_DIR=/path/to/idx python -m benchmarks.cli_startup [--rounds 5] [--fast]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.harness.launcher import run_cpu_seconds
from mnist_demo import data
from mnist_demo.settings import from_process

REPO = Path(__file__).resolve().parents[1]


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rounds", type=int, default=5, help="alternating rounds (this machine is noisy): medians")
    p.add_argument("--fast", action="store_true", help="also the whole `--preset fast --target-acc 0.95` command")
    return p


def seconds(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def process(args: list[str], data_dir: Path, out: str) -> float:
    env = {**os.environ, "MNIST_DATA_DIR": str(data_dir)}
    command = [sys.executable, "-m", "mnist_demo.train", *args, "--out", out]
    return seconds(lambda: subprocess.run(command, check=True, env=env, cwd=REPO, stdout=subprocess.DEVNULL,
                                          stderr=subprocess.DEVNULL))


def dry_run_cpu(args: list[str], data_dir: Path, out: str, freeze: bool) -> float:
    """CPU seconds of ``python -m mnist_demo.train ARGS`` run to its end; ``freeze=False``: its
    exit's ``gc.freeze()`` does nothing."""
    skip = "" if freeze else "import gc; gc.freeze = lambda: None; "
    code = f"{skip}import runpy, sys; sys.argv = {['mnist_demo.train', *args, '--out', out]!r}; " \
           "runpy.run_module('mnist_demo.train', run_name='__main__')"
    return run_cpu_seconds([sys.executable, "-c", code], {"MNIST_DATA_DIR": str(data_dir)})


def compare(label: str, gunzip, cached, rounds: int) -> None:
    times = {"gunzip": [], "cache": []}
    for _ in range(rounds):
        times["gunzip"].append(gunzip())
        times["cache"].append(cached())
    g, c = statistics.median(times["gunzip"]), statistics.median(times["cache"])
    print(f"{label}: gunzip {g:.3f} s, cache {c:.3f} s (medians of {rounds}; ranges "
          f"{min(times['gunzip']):.3f}-{max(times['gunzip']):.3f} and {min(times['cache']):.3f}-"
          f"{max(times['cache']):.3f}): the cache takes {c / g:.2f}x the time, saves {g - c:.2f} s")


def main() -> None:
    args = parser().parse_args()
    folder = from_process().mnist_dir  # MNIST_DIR, as the app reads it
    if folder is None:
        sys.exit("set MNIST_DIR to a folder of the four IDX files")
    folder = Path(folder)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        warm, cache = tmp / "warm", tmp / "warm" / data.CACHE_NAME
        (tmp / "a-file").write_text("")
        nowhere = tmp / "a-file" / "data"  # under a file: no cache can be written there
        data.idx_arrays(folder, cache)
        print(f"MNIST from {folder}; cache {cache.stat().st_size / 1e6:.1f} MB")
        compare("in process, the four files", lambda: seconds(lambda: data.idx_arrays(folder, None)),
                lambda: seconds(lambda: data.idx_arrays(folder, cache)), args.rounds)
        dry = ["--model", "linear", "--dry-run"]
        compare("whole process, `python -m mnist_demo.train --model linear --dry-run`",
                lambda: process(dry, nowhere, str(tmp / "out")), lambda: process(dry, warm, str(tmp / "out")),
                args.rounds)
        frozen, walked = [], []
        for _ in range(args.rounds):
            frozen.append(dry_run_cpu(dry, warm, str(tmp / "out"), freeze=True))
            walked.append(dry_run_cpu(dry, warm, str(tmp / "out"), freeze=False))
        f, w = statistics.median(frozen), statistics.median(walked)
        print(f"whole process, CPU: {f:.2f} CPU-s with the exit's gc.freeze(), {w:.2f} without "
              f"({f / w:.2f}x, {w - f:.2f} CPU-s less; medians of {args.rounds})")
        if args.fast:
            full = ["--preset", "fast", "--target-acc", "0.95"]
            compare("whole process, `python -m mnist_demo.train --preset fast --target-acc 0.95`",
                    lambda: process(full, nowhere, str(tmp / "out")), lambda: process(full, warm, str(tmp / "out")),
                    min(args.rounds, 3))


if __name__ == "__main__":
    main()
