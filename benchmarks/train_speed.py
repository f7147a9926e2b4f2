"""Training speed: the tutorial's own loop against ``mnist_demo.training``, measured in one run.

Part 1, per epoch: for each model, the tutorial's loop (verbatim: DataLoader(batch_size=64,
shuffle=True), default torch threads) and the project's trainer with the same recipe (Adam 1e-3,
batch 64), same data, same epochs, same initial weights (the CNN's conv3.bias starting at 1.0 in
both, see --pytorch-init). Prints seconds per epoch, the speed-up,
and both final validation losses and accuracies (they should agree within noise).

Part 2, whole process (imports and data loading included): ``python -m mnist_demo.train
--limit 20000 --epochs 2`` against a process that runs the tutorial's loop on the same slice.

Part 3, the `fast` preset: the tutorial's own loop for its 15 epochs (its own initialisation)
against ``--preset fast --target-acc 0.95`` in process, seeds 0-2, and the whole command as a
process. Goal: 95 % in at most 1/8 of the tutorial's wall time.

    python -m benchmarks.train_speed                 # 2 epochs on the full 50,000
    python -m benchmarks.train_speed --epochs 15     # the tutorial's full 15 (slow)
    python -m benchmarks.train_speed --only-fast     # part 3 alone
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from mnist_demo import tutorial
from mnist_demo.evaluation import evaluate
from mnist_demo.presets import PRESETS, TrainConfig
from mnist_demo.settings import from_process  # MNIST_DIR, MNIST_DATA_DIR: as the app reads them
from mnist_demo.training import as_tensors, new_model, train

REPO = Path(__file__).resolve().parents[1]

TUTORIAL_CLASSES = {"linear": tutorial.FeedForward, "cnn": tutorial.CNN}

TUTORIAL_PROCESS = """
import os
import numpy as np
from pathlib import Path
from mnist_demo import tutorial
from mnist_demo.data import IDX_FILES, read_idx
# The same raw pixels OpenML hands the tutorial (float64, 0..255), then the tutorial's own lines.
folder = Path(os.environ["MNIST_DIR"])
raw = {{k: read_idx(folder / (v + ".gz"), 2051 if k.endswith("images") else 2049)
       for k, v in IDX_FILES.items()}}
mnist = (np.concatenate([raw["train_images"], raw["test_images"]]).reshape(-1, 784).astype(np.float64),
         np.concatenate([raw["train_labels"], raw["test_labels"]]))
X = np.float32(mnist[0] / 256)
Y = np.int64(mnist[1])
x_train, y_train, x_valid, y_valid = X[:50000, :], Y[:50000], X[50000:, :], Y[50000:]
n = {limit}
model = {{"linear": tutorial.FeedForward, "cnn": tutorial.CNN}}["{model}"]()
tutorial.tutorial_training(model, x_train[:n], y_train[:n], x_valid, y_valid, epochs={epochs},
                           on_epoch=lambda e, l: print(e, l))
"""


def per_epoch(name: str, data, epochs: int, seed: int, class_bias_init: float | None) -> dict:
    cfg = TrainConfig(epochs=epochs, seed=seed, device="cpu", class_bias_init=class_bias_init)
    x_valid, y_valid = as_tensors(data, torch.device("cpu"))[2:]

    # The tutorial's loop, on a model with the very same initial weights as ours.
    ref = TUTORIAL_CLASSES[name]()
    ref.load_state_dict(new_model(name, cfg).state_dict())
    stamps = [time.perf_counter()]
    torch.manual_seed(seed)
    tutorial.tutorial_training(ref, data.x_train, data.y_train, data.x_valid, data.y_valid,
                               epochs=epochs, on_epoch=lambda e, loss: stamps.append(time.perf_counter()))
    tut_s = (stamps[-1] - stamps[0]) / epochs
    tut_loss, tut_acc = evaluate(ref, x_valid, y_valid)

    model = new_model(name, cfg)
    t0 = time.perf_counter()
    last = [e for e in train(model, data, cfg) if hasattr(e, "valid_acc")][-1]
    ours_s = (time.perf_counter() - t0) / epochs
    return dict(tut_s=tut_s, ours_s=ours_s, tut_loss=tut_loss, tut_acc=tut_acc,
                ours_loss=last.valid_loss, ours_acc=last.valid_acc)


def whole_process(name: str, limit: int, epochs: int) -> tuple[float, float]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    with tempfile.TemporaryDirectory() as out:
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "mnist_demo.train", "--model", name, "--limit", str(limit),
                        "--epochs", str(epochs), "--out", out], check=True, env=env, cwd=REPO,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        ours = time.perf_counter() - t0
    t0 = time.perf_counter()
    code = TUTORIAL_PROCESS.format(limit=limit, model=name, epochs=epochs)
    subprocess.run([sys.executable, "-c", code], check=True, env=env, cwd=REPO, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0, ours


def fast_against_tutorial(data, seeds: list[int], target: float = 0.95) -> None:
    x_valid, y_valid = as_tensors(data, torch.device("cpu"))[2:]
    torch.manual_seed(0)
    ref = tutorial.CNN()  # the tutorial as it is: its own initialisation, its own loop, 15 epochs
    t0 = time.perf_counter()
    tutorial.tutorial_training(ref, data.x_train, data.y_train, data.x_valid, data.y_valid, epochs=15)
    tutorial_s = time.perf_counter() - t0
    print(f"\nfast preset: the tutorial's loop, 15 epochs: {tutorial_s:.1f} s, ends at "
          f"{evaluate(ref, x_valid, y_valid)[1]:.2%}; budget 1/8 = {tutorial_s / 8:.1f} s")
    import dataclasses
    for seed in seeds:
        cfg = dataclasses.replace(PRESETS["fast"], seed=seed, target_acc=target, device="cpu")
        model = new_model("cnn", cfg)
        t0 = time.perf_counter()
        epochs = [e for e in train(model, data, cfg) if hasattr(e, "valid_acc")]
        took = time.perf_counter() - t0
        verdict = "reached" if epochs[-1].valid_acc >= target else "DID NOT reach"
        print(f"  seed {seed}: {verdict} {target:.0%}: {epochs[-1].valid_acc:.2%} after {len(epochs)} epochs, "
              f"{took:.1f} s with validation = 1/{tutorial_s / took:.1f} of the tutorial's time (goal 1/8 or less)")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    with tempfile.TemporaryDirectory() as out:
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "mnist_demo.train", "--model", "cnn", "--preset", "fast",
                        "--target-acc", str(target), "--out", out], check=True, env=env, cwd=REPO,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        whole = time.perf_counter() - t0
    print(f"  the whole command (python start, imports, data, training, writing): {whole:.1f} s "
          f"= 1/{tutorial_s / whole:.1f}")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--models", nargs="+", default=["linear", "cnn"], choices=["linear", "cnn"])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--skip-process", action="store_true", help="skip part 2")
    p.add_argument("--pytorch-init", action="store_true",
                   help="keep PyTorch's own conv3.bias init (default: 1.0 in both runs). With it the "
                        "tutorial's CNN loses whole classes at random, so two runs that differ only "
                        "in shuffling order can end 10 points apart")
    p.add_argument("--only-fast", action="store_true", help="part 3 alone")
    p.add_argument("--skip-fast", action="store_true", help="skip part 3")
    return p


def main() -> None:
    args = parser().parse_args()
    data = from_process().mnist.load()
    if args.only_fast:
        return fast_against_tutorial(data, [0, 1, 2])
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} CPUs, "
          f"{args.epochs} epochs on {len(data.x_train):,} digits, validation on {len(data.x_valid):,}")
    print(f"{'model':7} {'tutorial s/epoch':>17} {'ours s/epoch':>13} {'speed-up':>9}   "
          f"{'tutorial loss/acc':>18} {'ours loss/acc':>15}")
    for name in args.models:
        r = per_epoch(name, data, args.epochs, args.seed, None if args.pytorch_init else 1.0)
        print(f"{name:7} {r['tut_s']:17.2f} {r['ours_s']:13.2f} {r['tut_s'] / r['ours_s']:8.2f}x   "
              f"{r['tut_loss']:9.4f} {r['tut_acc']:7.2%} {r['ours_loss']:7.4f} {r['ours_acc']:7.2%}")
    if not args.skip_fast:
        fast_against_tutorial(data, [0, 1, 2])
    if args.skip_process:
        return
    print("\nwhole process, --limit 20000 --epochs 2 (imports and data loading included)")
    for name in args.models:
        tut, ours = whole_process(name, 20_000, 2)
        print(f"{name:7} tutorial {tut:6.1f} s   ours {ours:6.1f} s   speed-up {tut / ours:5.2f}x")


if __name__ == "__main__":
    main()
