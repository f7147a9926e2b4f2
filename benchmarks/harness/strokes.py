"""MNIST validation digits as pen strokes, to be drawn with a real mouse on the pad.

A digit is thinned to its centre line (Zhang-Suen thinning at 4x resolution), the centre line is
walked into polylines, and the polylines are simplified. Drawn with the pad's fixed pen, the
digit is scaled so that the pen is as wide as the digit's own stroke, and placed at random.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

UPSAMPLE = 4
NEIGHBOURS = [(-1, 0), (-1, 1), (0, 1), (1, 1), (1, 0), (1, -1), (0, -1), (-1, -1)]  # P2..P9, clockwise


def thin(shape: np.ndarray) -> np.ndarray:
    """Zhang-Suen thinning of a binary image to one-pixel-wide lines."""
    img = np.pad(shape.astype(np.uint8), 1)
    while True:
        changed = False
        for step in (0, 1):
            p = [np.roll(np.roll(img, -dy, 0), -dx, 1) for dy, dx in NEIGHBOURS]
            count = sum(p)
            transitions = sum(((p[i] == 0) & (p[(i + 1) % 8] == 1)).astype(np.uint8) for i in range(8))
            if step == 0:
                cond = (p[0] * p[2] * p[4] == 0) & (p[2] * p[4] * p[6] == 0)
            else:
                cond = (p[0] * p[2] * p[6] == 0) & (p[0] * p[4] * p[6] == 0)
            remove = (img == 1) & (count >= 2) & (count <= 6) & (transitions == 1) & cond
            if remove.any():
                img[remove] = 0
                changed = True
        if not changed:
            return img[1:-1, 1:-1].astype(bool)


def trace(skeleton: np.ndarray) -> list[list[tuple[int, int]]]:
    """Walk the skeleton's pixels into polylines: every edge once, starting from line ends."""
    pixels = {tuple(p) for p in np.argwhere(skeleton)}

    def neighbours(p):
        y, x = p
        out = [(y + dy, x + dx) for dy, dx in NEIGHBOURS if (y + dy, x + dx) in pixels]
        # a diagonal step is redundant where a right-angle path through a shared neighbour exists
        return [q for q in out if q[0] == y or q[1] == x or ((y, q[1]) not in pixels and (q[0], x) not in pixels)]

    edges = {frozenset((p, q)) for p in pixels for q in neighbours(p)}
    paths = []
    while edges:
        free = {p for e in edges for p in e}
        ends = sorted(p for p in free if sum(frozenset((p, q)) in edges for q in neighbours(p)) % 2 == 1)
        current = ends[0] if ends else min(free)
        path = [current]
        while True:
            options = [q for q in neighbours(current) if frozenset((current, q)) in edges]
            if not options:
                break
            if len(path) > 1:  # keep going straight where the line branches
                dy, dx = current[0] - path[-2][0], current[1] - path[-2][1]
                options.sort(key=lambda q: -((q[0] - current[0]) * dy + (q[1] - current[1]) * dx))
            nxt = options[0]
            edges.discard(frozenset((current, nxt)))
            path.append(nxt)
            current = nxt
        paths.append(path)
    return paths


def simplify(points: list, tolerance: float) -> list:
    """Douglas-Peucker: drop points closer than ``tolerance`` to the line through their neighbours."""
    if len(points) < 3:
        return points
    a, b = np.asarray(points[0], float), np.asarray(points[-1], float)
    pts = np.asarray(points, float)
    d = b - a
    norm = np.hypot(*d)
    if norm == 0:
        dist = np.hypot(*(pts - a).T)
    else:
        dist = np.abs(d[0] * (pts[:, 1] - a[1]) - d[1] * (pts[:, 0] - a[0])) / norm
    i = int(np.argmax(dist))
    if dist[i] <= tolerance:
        return [points[0], points[-1]]
    return simplify(points[:i + 1], tolerance)[:-1] + simplify(points[i:], tolerance)


def digit_strokes(digit28: np.ndarray) -> tuple[list[list[tuple[float, float]]], float]:
    """The digit's centre lines as polylines of (x, y) in MNIST pixels, and its stroke width there."""
    big = ndimage.zoom(np.asarray(digit28, np.float32).reshape(28, 28), UPSAMPLE, order=1)
    shape = big > 0.4 * big.max()  # 0.3-0.5 measured alike (CNN 96-97 %, linear 92-94 % on 1,500 digits)
    width = 4 * ndimage.distance_transform_edt(shape)[shape].mean() / UPSAMPLE
    paths = trace(thin(shape))
    # two-pixel spurs are thinning noise, not pen strokes (unless that is all there is)
    lines = [simplify(path, 0.8) for path in paths if len(path) > 2 or len(paths) == 1]
    # (y, x) at 4x, pixel centres -> (x, y) in MNIST pixels
    return [[((x + 0.5) / UPSAMPLE, (y + 0.5) / UPSAMPLE) for y, x in line] for line in lines], float(width)


def place(strokes, width: float, pen: float, side: float, rng: np.random.Generator):
    """Strokes in MNIST pixels -> pad pixels: scaled so the pen matches the digit's own stroke
    width (within what fits), at a random place that keeps the whole pen inside the pad."""
    pts = np.concatenate([np.asarray(s) for s in strokes])
    lo, hi = pts.min(0), pts.max(0)
    scale = min(pen / max(width, 0.5), (0.9 * side - pen) / max(hi - lo))
    size = (hi - lo) * scale
    offset = np.array([rng.uniform(pen / 2 + 2, side - pen / 2 - 2 - size[k]) for k in (0, 1)])
    return [[tuple((np.asarray(p) - lo) * scale + offset) for p in s] for s in strokes]
