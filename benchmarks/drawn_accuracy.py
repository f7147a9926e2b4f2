"""Accuracy on drawn digits: MNIST validation digits re-drawn as visitors send them
(benchmarks/harness/digits.py: the pad's transparent canvas, black on white, white on dark, a JPEG),
read by the shipped models in process.

1. The drawn-digit set by kind of picture, with MNIST's preprocessing, and the linear model
   after a plain resize of the canvas instead (``naive_resize`` below, the baseline).
2. A sweep of pen widths (the same digits, every pen grown or shrunk by the same amount), with
   and without the stroke-width normalisation.

    python -m benchmarks.drawn_accuracy [--n 1000] [--seed 0] [--sweep-n 300]
"""

from __future__ import annotations

import argparse
from collections import defaultdict

import numpy as np
from PIL import Image

from benchmarks.harness import digits as drawn_digits
from mnist_demo.data import PIXEL_SCALE
from mnist_demo.inference import Predictor
from mnist_demo.preprocess import FIELD, ink_to_mnist, to_ink
from mnist_demo.settings import from_process  # MNIST_DIR, MNIST_DATA_DIR: as the app reads them


def naive_resize(image) -> np.ndarray | None:
    """What not to do: squash the whole canvas to 28x28 (the baseline MNIST's recipe fixes)."""
    ink = to_ink(image)
    if ink is None or ink.max() <= 0:
        return None
    small = np.asarray(Image.fromarray(ink).resize((FIELD, FIELD), Image.Resampling.BILINEAR))
    return (np.clip(small / small.max(), 0, 1) * np.float32(255 / PIXEL_SCALE)).astype(np.float32)


class FixedPen:
    """A random generator whose pen-width draw is pinned to `radius` (drawn_digits.redraw)."""

    def __init__(self, radius: float, seed: int):
        self.radius, self.rng = radius, np.random.default_rng(seed)

    def uniform(self, low, high):
        return self.radius if (low, high) == (-0.6, 1.2) else self.rng.uniform(low, high)

    def integers(self, *args):
        return self.rng.integers(*args)


def by_style(predictor: Predictor, data, n: int, seed: int) -> None:
    hits, counts, naive = defaultdict(lambda: defaultdict(int)), defaultdict(int), 0
    for image, label, style in drawn_digits.drawn_digits(data.x_valid, data.y_valid, n, seed=seed):
        out = predictor.predict(image)
        counts[style] += 1
        for name in ("linear", "cnn"):
            hits[name][style] += out is not None and out.outputs[name].label == label
        naive += predictor.predict_digit(naive_resize(image)).outputs["linear"].label == label
    print(f"{n} drawn digits (seed {seed}), MNIST preprocessing:")
    for name in ("linear", "cnn"):
        per = "  ".join(f"{s} {hits[name][s] / counts[s]:.1%}" for s in counts)
        print(f"  {name:6} {sum(hits[name].values()) / n:6.2%}   ({per})")
    print(f"  linear after a plain resize of the canvas: {naive / n:.2%}")


def pen_sweep(predictor: Predictor, data, n: int) -> None:
    idx = np.random.default_rng(1).choice(len(data.x_valid), n, replace=False)
    print(f"\npen width sweep, {n} digits each (pen grown by radius x MNIST pixel; 0 = MNIST's own pen)")
    print("  radius   normalised: linear   cnn     not normalised: linear   cnn")
    for radius in (-0.5, 0.0, 0.5, 1.0, 1.5, 2.0):
        hits = defaultdict(int)
        for k, i in enumerate(idx):
            mask = drawn_digits.redraw(data.x_valid[i].reshape(28, 28), FixedPen(radius, k))
            ink = to_ink(drawn_digits.render(mask, "transparent"))  # the pad's canvas
            for normalise in (True, False):
                digit = ink_to_mnist(ink, normalise=normalise)
                out = predictor.predict_digit(digit)
                for name in ("linear", "cnn"):
                    hits[normalise, name] += out.outputs[name].label == data.y_valid[i]
        print(f"  {radius:+5.1f}   {hits[True, 'linear'] / n:17.1%} {hits[True, 'cnn'] / n:6.1%}"
              f"   {hits[False, 'linear'] / n:21.1%} {hits[False, 'cnn'] / n:6.1%}")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--n", type=int, default=1000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--sweep-n", type=int, default=300)
    return p


def main() -> None:
    args = parser().parse_args()
    data, predictor = from_process().mnist.load(), Predictor()
    by_style(predictor, data, args.n, args.seed)
    pen_sweep(predictor, data, args.sweep_n)


if __name__ == "__main__":
    main()
