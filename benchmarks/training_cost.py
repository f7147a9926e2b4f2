"""What a training costs per step, per training digit and per digit measured: the figures behind
the GPU time a training asks ZeroGPU for (``mnist_demo/gpu.py``, ``COSTS``).

For each model it times one epoch of train() on the same digits at batch 16 and at batch 512 (the
same digits in 32x fewer steps: the difference is the steps' own cost, the rest the digits'), and a
validation pass; medians of --repeats runs. Then it checks the fit on recipes it was not fitted on
(the `fast` and `tutorial` presets on a slice, both models), printing measured / estimated with
the figures just fitted and with the ones in gpu.py (a ratio above 1 eats into gpu.py's margin).
Last, what each preset asks ZeroGPU for with gpu.py's figures (all 50,000 digits, every epoch) and
whether that fits a visitor's daily quota.

    python -m benchmarks.training_cost                      # the CPU, one torch thread (as the app trains on 2 CPUs)
    python -m benchmarks.training_cost --device cuda        # on a GPU machine: the figures ZeroGPU needs
    python -m benchmarks.training_cost --only-asks          # the last table alone (no timing)
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import time

import torch

from mnist_demo import gpu
from mnist_demo.evaluation import evaluate
from mnist_demo.models import MODEL_NAMES
from mnist_demo.presets import PRESETS, TrainConfig
from mnist_demo.settings import from_process  # MNIST_DIR, MNIST_DATA_DIR: as the app reads them
from mnist_demo.training import EpochEvent, as_tensors, new_model, train


def train_seconds(data, name: str, cfg: TrainConfig) -> float:
    """Wall time of a whole training of ``cfg``, validation included, as the app runs it."""
    model = new_model(name, cfg)
    t0 = time.perf_counter()
    for _event in train(model, data, cfg):
        pass
    if cfg.device == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - t0


def epoch_seconds(data, name: str, cfg: TrainConfig) -> float:
    """One epoch's training steps alone: the last step's time, before its validation."""
    model = new_model(name, cfg)
    last = None
    for event in train(model, data, dataclasses.replace(cfg, epochs=1, log_every=10_000)):
        if isinstance(event, EpochEvent):
            break
        last = event.elapsed
    return last


def fit(data, name: str, digits: int, device: str, repeats: int) -> tuple[float, float, float]:
    """(seconds a step, a training digit, a digit measured) for one model."""
    cfg = TrainConfig(limit=digits, device=device)
    small, large = 16, 512
    t_small = statistics.median(epoch_seconds(data, name, dataclasses.replace(cfg, batch_size=small))
                                for _ in range(repeats))
    t_large = statistics.median(epoch_seconds(data, name, dataclasses.replace(cfg, batch_size=large))
                                for _ in range(repeats))
    steps_small, steps_large = -(-digits // small), -(-digits // large)
    step = max(0.0, (t_small - t_large) / (steps_small - steps_large))
    digit = max(0.0, (t_large - step * steps_large) / digits)
    model = new_model(name, cfg).to(device)
    x_valid, y_valid = as_tensors(data, torch.device(device))[2:]
    evaluate(model, x_valid, y_valid)  # warm-up
    checks = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        evaluate(model, x_valid, y_valid)
        checks.append(time.perf_counter() - t0)
    return step, digit, statistics.median(checks) / len(x_valid)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (the app's share on 2 CPUs: 1)")
    p.add_argument("--digits", type=int, default=10_000, help="training digits per timed epoch")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--only-asks", action="store_true", help="only the table of what each preset asks ZeroGPU for")
    return p


def asks(data) -> None:
    """What each preset asks ZeroGPU for, per model and for both, against the daily quotas."""
    quotas = gpu.QUOTA_SECONDS
    print(f"GPU seconds asked with gpu.py's COSTS (margin {gpu.MARGIN}, {gpu.START_SECONDS} s start, "
          f"cap {gpu.MAX_DURATION} s); fits a day's {' / '.join(f'{q} s ({k})' for k, q in quotas.items())}:")
    for preset, cfg in PRESETS.items():
        each = {n: gpu.gpu_seconds(n, gpu.work(data, cfg)) for n in MODEL_NAMES}
        both = gpu.run_seconds(MODEL_NAMES, data, cfg)
        fits = " / ".join("yes" if both <= q else "no" for q in quotas.values())
        print(f"  {preset:9} {cfg.epochs:2} epochs x {cfg.limit or len(data.x_train):,} digits: "
              + "  ".join(f"{n} {s:5.0f} s" for n, s in each.items()) + f"  both {both:5.0f} s: {fits}")


def main() -> None:
    args = parser().parse_args()
    torch.set_num_threads(args.threads)
    data = from_process().mnist.load()
    if args.only_asks:
        return asks(data)
    print(f"torch {torch.__version__}, device {args.device}, {torch.get_num_threads()} thread(s); "
          f"{args.digits:,} digits an epoch, medians of {args.repeats}")
    fitted = {}
    for name in MODEL_NAMES:
        train_seconds(data, name, TrainConfig(limit=2000, epochs=1, device=args.device))  # warm-up
        fitted[name] = fit(data, name, args.digits, args.device, args.repeats)
        step, digit, check = fitted[name]
        print(f"{name:6}  {step * 1e6:8.0f} µs a step  {digit * 1e6:7.1f} µs a digit  {check * 1e6:6.2f} µs a "
              f"digit measured")
    print("COSTS = {" + ", ".join(f'"{n}": ({s:.2g}, {d:.2g}, {c:.2g})' for n, (s, d, c) in fitted.items()) + "}")
    print("\nrecipes not fitted on: measured / estimated (fitted here, and gpu.py's COSTS)")
    checks = [("fast", 10_000, 64), ("tutorial", 5_000, 64), ("tutorial", 5_000, 16)]
    for preset, limit, batch in checks:
        cfg = dataclasses.replace(PRESETS[preset], limit=limit, batch_size=batch, device=args.device,
                                  epochs=min(PRESETS[preset].epochs, 2))
        for name in MODEL_NAMES:
            measured = train_seconds(data, name, cfg)
            job = gpu.work(data, cfg)
            here = job.steps * fitted[name][0] + job.digits * fitted[name][1] + job.checked * fitted[name][2]
            print(f"  {preset:8} {name:6} {cfg.epochs} epochs x {limit:,} digits, batch {batch:3}: {measured:6.2f} s"
                  f"  {measured / here:5.2f}x  {measured / job.seconds(name):5.2f}x")
    print()
    asks(data)


if __name__ == "__main__":
    main()
