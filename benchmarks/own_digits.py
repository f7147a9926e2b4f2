"""Does fine-tuning on a visitor's own drawings work? A style MNIST rarely has, drawn as strokes:
slashed zeros, 1s with a flag and a base, and boxy (seven-segment) 6s and 9s. 40 drawings to
fine-tune on and 40 held out, prepared by the app's own recipe (``ink_to_mnist``, the page's
twin). The shipped CNN is fine-tuned exactly as the app's "fine-tune" recipe does it with "include
my digits", and measured before and after on the held-out drawings and on MNIST validation.

    python -m benchmarks.own_digits            # goal: >= +20 points held out, <= 1 point on MNIST
    python -m benchmarks.own_digits --save out # also write the 80 drawings as an IDX pair
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

from mnist_demo.collection import Digits, to_bytes
from mnist_demo.data import load_mnist
from mnist_demo.digit_files import write_idx_pair
from mnist_demo.evaluation import evaluate, evaluate_digits
from mnist_demo.inference import load_shipped_models
from mnist_demo.preprocess import RECIPE, ink_to_mnist
from mnist_demo.train import PRESETS, as_tensors, train

# Strokes in a unit square (x right, y down); each style is one way of writing its digit.
SEGMENT = {"a": [(0.25, 0.1), (0.75, 0.1)], "b": [(0.75, 0.1), (0.75, 0.5)], "c": [(0.75, 0.5), (0.75, 0.9)],
           "d": [(0.25, 0.9), (0.75, 0.9)], "e": [(0.25, 0.5), (0.25, 0.9)], "f": [(0.25, 0.1), (0.25, 0.5)],
           "g": [(0.25, 0.5), (0.75, 0.5)]}
STYLES = {
    "slashed 0": (0, [[(0.5, 0.1), (0.25, 0.3), (0.25, 0.7), (0.5, 0.9), (0.75, 0.7), (0.75, 0.3), (0.5, 0.1)],
                      [(0.8, 0.05), (0.2, 0.95)]]),
    "1 with a flag and a base": (1, [[(0.2, 0.35), (0.55, 0.1), (0.55, 0.9)], [(0.25, 0.9), (0.85, 0.9)]]),
    "boxy 6": (6, [SEGMENT[s] for s in "afedcg"]),
    "boxy 9": (9, [SEGMENT[s] for s in "abfgcd"]),
}


def draw(strokes, rng: np.random.Generator, side: int = RECIPE["pad_side"], pen: int = RECIPE["pen_width"]):
    """One drawing on the pad's ink canvas: the style's strokes, moved, turned, slanted and
    wobbled a little as a hand would, with the pad's own round pen."""
    angle, slant = math.radians(rng.uniform(-10, 10)), rng.uniform(-0.25, 0.25)
    size, aspect = rng.uniform(0.45, 0.8) * side, rng.uniform(0.8, 1.2)
    cx, cy = rng.uniform(0.4, 0.6) * side, rng.uniform(0.4, 0.6) * side
    img = Image.new("L", (side, side), 0)
    pen_down = ImageDraw.Draw(img)
    for stroke in strokes:
        points = []
        for x, y in stroke:
            x, y = x + rng.normal(0, 0.03), y + rng.normal(0, 0.03)
            x, y = (x - 0.5) * aspect + slant * (0.5 - y), y - 0.5
            points.append((cx + size * (x * math.cos(angle) - y * math.sin(angle)),
                           cy + size * (x * math.sin(angle) + y * math.cos(angle))))
        pen_down.line(points, fill=255, width=pen, joint="curve")
        for px, py in (points[0], points[-1]):  # round ends, as the pad's lineCap
            pen_down.ellipse((px - pen / 2, py - pen / 2, px + pen / 2, py + pen / 2), fill=255)
    return np.asarray(img)


def drawings(per_style: int, seed: int) -> Digits:
    rng = np.random.default_rng(seed)
    pixels, labels = [], []
    for label, strokes in STYLES.values():
        for _ in range(per_style):
            pixels.append(to_bytes(ink_to_mnist(draw(strokes, rng))))
            labels.append(label)
    return Digits(np.stack(pixels), np.array(labels, np.uint8), np.arange(len(labels)))


def mnist_accuracy(model, data) -> float:
    x_valid, y_valid = as_tensors(data, torch.device("cpu"))[2:]
    return evaluate(model, x_valid, y_valid)[1]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--per-style", type=int, default=10, help="drawings per style, for each half")
    p.add_argument("--seeds", default="0,1,2", help="one run per seed: other drawings, other shuffles")
    p.add_argument("--epochs", type=int)
    p.add_argument("--lr", type=float)
    p.add_argument("--limit", type=int)
    p.add_argument("--own-share", type=float)
    p.add_argument("--save", help="folder for the drawings of the first seed as an IDX pair (fit, held)")
    args = p.parse_args()
    data = load_mnist()
    overrides = {k: v for k, v in dict(epochs=args.epochs, lr=args.lr, limit=args.limit,
                                       own_share=args.own_share).items() if v is not None}
    cfg = dataclasses.replace(PRESETS["fine-tune"], **overrides)
    shipped = load_shipped_models()["cnn"]
    print(f"recipe: {cfg}\nstyles: {', '.join(STYLES)}; {args.per_style} of each to fine-tune on, "
          f"{args.per_style} held out")
    gains, costs = [], []
    for seed in map(int, args.seeds.split(",")):
        fit, held = drawings(args.per_style, 1000 + seed), drawings(args.per_style, 2000 + seed)
        if args.save and not gains:
            Path(args.save).mkdir(parents=True, exist_ok=True)
            write_idx_pair(fit, args.save, "fit")
            write_idx_pair(held, args.save, "held")
        model = copy.deepcopy(shipped)
        before = evaluate_digits(model, held), mnist_accuracy(model, data)
        start = time.perf_counter()
        for _ in train(model, data, dataclasses.replace(cfg, seed=seed), own=fit, own_held=held):
            pass
        after = evaluate_digits(model, held), mnist_accuracy(model, data)
        gains.append(100 * (after[0] - before[0]))
        costs.append(100 * (before[1] - after[1]))
        print(f"seed {seed}: held-out drawings {before[0]:.1%} -> {after[0]:.1%} ({gains[-1]:+.1f} points); "
              f"MNIST validation {before[1]:.2%} -> {after[1]:.2%} ({-costs[-1]:+.2f} points); "
              f"fine-tune {time.perf_counter() - start:.1f} s")
    print(f"mean: {np.mean(gains):+.1f} points on the held-out drawings (goal >= +20; worst seed "
          f"{min(gains):+.1f}), {-np.mean(costs):+.2f} points on MNIST validation (goal >= -1; worst "
          f"{-max(costs):+.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
