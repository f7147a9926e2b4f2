"""What each model learned and why it answered as it did, as pictures (numpy arrays).

Pure functions of a model and a 28x28 digit: the linear model's ten templates and the evidence
(weight x pixel) behind its top two answers; the CNN's first-layer filters and its feature maps
after each convolution. Colours come from matplotlib's colour maps; no figure is drawn, so a
whole set renders in a few milliseconds. The app computes them only when the "Look inside" tab is
selected, for the digit the pad holds at that moment (they do not follow the strokes).
"""

from __future__ import annotations

import functools

import numpy as np
import torch

ZOOM = 8  # 28 px -> 224 px


@functools.cache
def colormap(diverging: bool):
    """Imported on first use: matplotlib costs start-up time the Draw tab does not need."""
    from matplotlib import colormaps

    # blue = votes against, white = zero, red = votes for; activations (>= 0) get magma
    return colormaps["RdBu_r" if diverging else "magma"]


def enlarge(picture: np.ndarray, zoom: int) -> np.ndarray:
    """Nearest-neighbour enlargement: every pixel becomes a zoom x zoom block, crisp edges."""
    return np.repeat(np.repeat(picture, zoom, axis=0), zoom, axis=1) if zoom > 1 else picture


def colorize(a: np.ndarray, diverging: bool = True, vmax: float | None = None, zoom: int = 1) -> np.ndarray:
    """A 2-D array as an RGB uint8 picture. Diverging maps are centred on zero."""
    a = np.asarray(a, dtype=np.float32)
    if vmax is None:
        vmax = float(np.abs(a).max()) or 1.0
    scaled = (a / vmax + 1) / 2 if diverging else np.clip(a / vmax, 0, 1)
    rgb = (colormap(diverging)(np.clip(scaled, 0, 1))[..., :3] * 255).astype(np.uint8)
    return enlarge(rgb, zoom)


def tile(pictures: list[np.ndarray], cols: int, gap: int = 3, fill: int = 128) -> np.ndarray:
    """Equal-sized RGB pictures as one grid, ``gap`` pixels of grey between them."""
    h, w, _ = pictures[0].shape
    rows = -(-len(pictures) // cols)
    out = np.full((rows * (h + gap) - gap, cols * (w + gap) - gap, 3), fill, dtype=np.uint8)
    for i, pic in enumerate(pictures):
        r, c = divmod(i, cols)
        out[r * (h + gap):r * (h + gap) + h, c * (w + gap):c * (w + gap) + w] = pic
    return out


# ---------------------------------------------------------------------------- linear model


def linear_templates(model) -> np.ndarray:
    """The ten weight vectors as 28x28 pictures in a 5x2 grid (0-4 above, 5-9 below), on one
    shared colour scale so they compare."""
    w = model.lin.weight.detach().cpu().numpy().reshape(10, 28, 28)
    vmax = float(np.abs(w).max())
    return tile([colorize(w[d], vmax=vmax, zoom=5) for d in range(10)], cols=5, gap=6)


def evidence(model, digit: np.ndarray) -> tuple[list[tuple[int, np.ndarray]], float]:
    """Weight x pixel for the top two classes: which pixels voted for (red) or against (blue).
    Returns [(class, 28x28 map), ...] and the shared colour-scale maximum."""
    w = model.lin.weight.detach().cpu().numpy().reshape(10, 28, 28)
    x = np.asarray(digit, dtype=np.float32).reshape(28, 28)
    with torch.inference_mode():
        scores = model(torch.tensor(x).reshape(1, 784))[0].numpy()
    top2 = [int(c) for c in np.argsort(scores)[::-1][:2]]
    maps = [(c, w[c] * x) for c in top2]
    return maps, float(max(np.abs(m).max() for _, m in maps)) or 1.0


# ---------------------------------------------------------------------------- CNN


def cnn_filters(model) -> np.ndarray:
    """The 16 first-layer 3x3 filters in an 8x2 grid, on one colour scale."""
    f = model.conv1.weight.detach().cpu().numpy()[:, 0]
    vmax = float(np.abs(f).max())
    return tile([colorize(k, vmax=vmax, zoom=20) for k in f], cols=8, gap=6)


def cnn_feature_maps(model, digit: np.ndarray) -> list[np.ndarray]:
    """Activations after each convolution: 16 at 14x14, 16 at 7x7, and the 10 per-class score
    maps at 4x4 (the model's answer is their averages), each layer on its own colour scale."""
    with torch.inference_mode():
        maps = model.feature_maps(torch.tensor(np.asarray(digit, dtype=np.float32)).reshape(1, 784))
    out = []
    for m, cols, zoom in zip(maps, (8, 8, 10), (4, 8, 12), strict=True):
        a = m[0].numpy()
        diverging = bool((a < 0).any())  # conv3 without its final ReLU can be negative
        vmax = float(np.abs(a).max()) or 1.0
        out.append(tile([colorize(x, diverging, vmax, zoom) for x in a], cols=cols))
    return out

