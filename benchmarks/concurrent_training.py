"""Several visitors training at once on one machine: aggregate throughput (training digits per
second, all trainings together) with K CNN trainings running side by side in one process, as the
app runs them (one worker thread each), for each torch thread count. Measured in one run.

    python -m benchmarks.concurrent_training                 # K = 1, 2, 4; 1 and 2 torch threads
    python -m benchmarks.concurrent_training --digits 5000

Each training is the tutorial recipe on the first --digits training digits for one epoch,
validation included, as in the app. What to look for: whether K > 1 raises the total (then
MNIST_MAX_TRAININGS > 1 serves a class sooner) or only shares the same total among more people.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import threading
import time

import torch

from mnist_demo.presets import PRESETS
from mnist_demo.settings import from_process  # MNIST_DIR, MNIST_DATA_DIR: as the app reads them
from mnist_demo.training import new_model, train


def run_side_by_side(k: int, data, cfg) -> float:
    """Seconds for k trainings started together, each in its own thread."""
    models = [new_model("cnn", dataclasses.replace(cfg, seed=i)) for i in range(k)]
    threads = [threading.Thread(target=lambda m=m: [None for _ in train(m, data, cfg)]) for m in models]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - t0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--digits", type=int, default=10_000)
    p.add_argument("--ks", default="1,2,4")
    p.add_argument("--threads", default="1,2")
    return p


def main():
    args = parser().parse_args()
    data = from_process().mnist.load()
    cfg = dataclasses.replace(PRESETS["tutorial"], epochs=1, limit=args.digits, device="cpu")
    run_side_by_side(1, data, dataclasses.replace(cfg, limit=2000))  # warm-up: imports, oneDNN kernels
    print(f"CNN, tutorial recipe, 1 epoch on {args.digits:,} digits each, {os.cpu_count()} CPUs")
    base = None
    for threads in map(int, args.threads.split(",")):
        torch.set_num_threads(threads)
        for k in map(int, args.ks.split(",")):
            wall = run_side_by_side(k, data, cfg)
            total = k * args.digits / wall
            base = base or total
            print(f"  torch threads {threads}  K={k}: {wall:6.1f} s for all, {total:7.0f} digits/s together "
                  f"({total / base:.2f}x the first line), {total / k:7.0f} digits/s each")


if __name__ == "__main__":
    main()
