"""A drawn-digit test set made from MNIST validation digits, re-drawn as visitors send them:
a random size and place on a big canvas, hard-edged strokes of varied thickness, and one of
four kinds of picture (transparent with the ink in the alpha, as the pad's canvas; black on
white; white on dark; a JPEG of dark ink on off-white paper)."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image
from scipy import ndimage

STYLES = ("transparent", "white", "dark", "jpeg")


def redraw(digit28: np.ndarray, rng: np.random.Generator, canvas: int = 560) -> np.ndarray:
    """A (canvas, canvas) uint8 ink mask (255 = ink) of the digit, drawn with a uniform pen."""
    height = int(rng.uniform(0.35, 0.85) * canvas)  # digit height on the canvas
    zoom = height / 20.0  # MNIST digits are ~20 px tall in their 28x28 field
    big = ndimage.zoom(digit28.astype(np.float32), zoom, order=1)
    shape = big > 0.5 * big.max()
    # Uniform pen of varied width: grow or shrink the shape by a radius relative to its size.
    radius = rng.uniform(-0.6, 1.2) * zoom
    if radius >= 0:
        shape = ndimage.distance_transform_edt(~shape) <= radius
    else:
        thinner = ndimage.distance_transform_edt(shape) > -radius
        shape = thinner if thinner.sum() > 0.3 * shape.sum() else shape
    rows, cols = np.flatnonzero(shape.any(1)), np.flatnonzero(shape.any(0))
    shape = shape[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    h, w = shape.shape
    if max(h, w) > canvas - 4:
        factor = (canvas - 4) / max(h, w)
        shape = np.asarray(Image.fromarray(shape).resize((max(1, int(w * factor)), max(1, int(h * factor)))))
        h, w = shape.shape
    out = np.zeros((canvas, canvas), dtype=np.uint8)
    top, left = rng.integers(0, canvas - h + 1), rng.integers(0, canvas - w + 1)
    out[top:top + h, left:left + w] = shape.astype(np.uint8) * 255
    return out


def render(mask: np.ndarray, style: str) -> Image.Image:
    """The mask as a picture the app would receive, opened with PIL."""
    if style == "transparent":  # the pad's canvas, or a transparent PNG: the ink is in the alpha
        rgba = np.zeros((*mask.shape, 4), dtype=np.uint8)
        rgba[..., 3] = mask
        return Image.fromarray(rgba)
    if style == "white":
        return Image.fromarray(np.stack([255 - mask] * 3, axis=-1))
    if style == "dark":
        dark = (40 + mask.astype(np.float32) * (215 / 255)).astype(np.uint8)  # white ink on #282828
        return Image.fromarray(np.stack([dark] * 3, axis=-1))
    if style == "jpeg":  # ink #202020 on paper #f0ece0, as a photo or a scan would send it
        t = mask.astype(np.float32)[..., None] / 255
        rgb = (np.array([240, 236, 224]) * (1 - t) + 32 * t).astype(np.uint8)
        buf = io.BytesIO()
        Image.fromarray(rgb).save(buf, "JPEG", quality=85)
        return Image.open(buf)
    raise ValueError(style)


def drawn_digits(x_valid: np.ndarray, y_valid: np.ndarray, n: int, seed: int = 0, canvas: int = 560):
    """Yields (input, true label, style) for n validation digits spread over the split."""
    rng = np.random.default_rng(seed)
    for i, idx in enumerate(rng.choice(len(x_valid), size=n, replace=False)):
        style = STYLES[i % len(STYLES)]
        yield render(redraw(x_valid[idx].reshape(28, 28), rng, canvas), style), int(y_valid[idx]), style
