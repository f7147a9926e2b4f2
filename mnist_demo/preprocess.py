"""From a picture or the pad's canvas to a 28x28 MNIST digit, the way MNIST itself was made.

MNIST's recipe (LeCun et al.): take the ink, crop it to its bounding box, scale it to fit a 20x20
box keeping the aspect ratio (anti-aliased), and paste it in a 28x28 field so that its centre of
mass sits at the centre. A plain resize of a big canvas gives a small, off-centre digit that the
linear model in particular cannot read (~14 % instead of ~90 % on drawn digits).

``preprocess`` reads what visitors send: picture files opened with PIL (``/classify`` and the
Draw tab's upload, any format, dark ink on light or light on dark, with or without transparency)
and arrays (e.g. the pad's RGBA canvas: transparent background, the ink in its alpha).
``ink_to_mnist`` is the recipe itself; the page's ``page/recipe.js`` is its twin, which runs it
in the browser on every stroke, and both read their constants from ``recipe.json``.
``None`` means "nothing drawn".
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image
from scipy import ndimage

from .data import PIXEL_SCALE

# The constants live in recipe.json, which the page's JavaScript (page/recipe.js) reads too:
# the two implementations of this recipe cannot drift apart.
RECIPE = json.loads((Path(__file__).with_name("recipe.json")).read_text())
FIELD, BOX = RECIPE["field"], RECIPE["box"]  # MNIST's field and the box the digit is fitted into
CENTRE = RECIPE["centre"]  # mean centre of mass of MNIST's training digits is (13.99, 14.00) in index units
MAX_SIDE = RECIPE["max_side"]  # larger inputs are box-reduced first: bounded memory and time, same result
INK_THRESHOLD = RECIPE["ink_threshold"]  # ink below this fraction of the strongest ink does not count for the box
MIN_PEAK = RECIPE["min_peak"]  # ink fainter than this (fraction of full ink) everywhere is blank
MIN_INK_PIXELS = RECIPE["min_ink_pixels"]  # fewer ink pixels than this fraction of the canvas is a speck
MIN_INK_PIXELS_ABS = RECIPE["min_ink_pixels_abs"]
WORK_SIDE = RECIPE["work_side"]  # 4 x BOX: stroke width is measured and changed at 4x the final resolution
STROKE_RANGE = tuple(RECIPE["stroke_range"])  # MNIST's stroke width, 10th..90th percentile, px of the 20px box


class ImageInputError(ValueError):
    """The input is not an image we can read (the message says why)."""


# ---------------------------------------------------------------------------- ink extraction


def _reduce(img: Image.Image) -> Image.Image:
    factor = -(-max(img.size) // MAX_SIDE)  # ceil
    return img.reduce(factor) if factor > 1 else img


def ink_from_pil(img: Image.Image) -> np.ndarray:
    """Ink in [0, 1] as float32 (H, W): the alpha channel if the image has real transparency,
    else the contrast with the border colour (dark on light and light on dark both work)."""
    if getattr(img, "n_frames", 1) > 1:
        img.seek(0)  # animated GIF / multi-page TIFF: the first frame
    has_alpha = img.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
        img.mode == "P" and "transparency" in img.info)
    img = _reduce(img.convert("RGBA" if has_alpha else "L"))
    if has_alpha:
        alpha = np.asarray(img.getchannel("A"), dtype=np.float32) / 255.0
        if alpha.min() < 0.98:  # some transparency: the alpha is the ink
            return alpha
        img = img.convert("L")  # alpha present but fully opaque: fall back to contrast
    return ink_from_luminance(np.asarray(img, dtype=np.float32) / 255.0)


def ink_from_luminance(lum: np.ndarray) -> np.ndarray:
    """Ink as distance from the background, taken as the median of the border pixels."""
    border = np.concatenate([lum[0], lum[-1], lum[:, 0], lum[:, -1]])
    background = float(np.median(border))
    return np.abs(lum - background).astype(np.float32)


def _array_to_pil(a: np.ndarray) -> Image.Image:
    a = np.asarray(a)
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[:, :, 0]
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[2] not in (3, 4)) or min(a.shape[:2]) < 1:
        raise ImageInputError(f"expected an image array of shape (H, W), (H, W, 3) or (H, W, 4), "
                              f"got {a.shape}")
    if a.dtype == bool:
        a = a.astype(np.uint8) * 255
    elif a.dtype != np.uint8:
        if a.dtype.kind not in "iuf":
            raise ImageInputError(f"unsupported pixel type {a.dtype}")
        step = -(-max(a.shape[:2]) // MAX_SIDE)  # subsample first: no gigabyte float copies
        with np.errstate(over="ignore", invalid="ignore"):  # huge values become inf, then 0
            f = np.nan_to_num(a[::step, ::step].astype(np.float32), nan=0.0, posinf=0.0, neginf=0.0)
        if a.dtype.kind == "f" and f.min() >= 0.0 and f.max() <= 1.0:
            f *= 255.0  # floats in [0, 1]; anything else is read as 0..255 and clipped
        a = np.clip(f, 0, 255).astype(np.uint8)
    return Image.fromarray(np.ascontiguousarray(a))


def to_ink(image) -> np.ndarray | None:
    """A PIL image or an image array as an ink map in [0, 1]; None for no input."""
    if image is None:
        return None
    if isinstance(image, Image.Image):
        return ink_from_pil(image)
    if isinstance(image, np.ndarray):
        return ink_from_pil(_array_to_pil(image))
    raise ImageInputError(f"cannot read an image from {type(image).__name__}")


# ---------------------------------------------------------------------------- MNIST's recipe


def _fit(a: np.ndarray, side: int) -> np.ndarray:
    """Resize so the longer side is ``side``, keeping the aspect ratio, anti-aliased."""
    h, w = a.shape
    scale = side / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))  # PIL wants (width, height)
    return np.clip(np.asarray(Image.fromarray(a).resize(size, Image.Resampling.LANCZOS)), 0.0, 1.0)


def stroke_width(shape: np.ndarray) -> float:
    """Mean stroke width of a binary shape, in its own pixels: for a stroke of width W the
    distance to the background averages W/4 over the stroke."""
    return 4.0 * float(ndimage.distance_transform_edt(shape)[shape].mean()) if shape.any() else 0.0


def normalise_stroke(crop: np.ndarray) -> np.ndarray:
    """Bring a drawing's stroke width into MNIST's range (drawn strokes are uniform and often
    much bolder or thinner than MNIST's pen). ``crop`` is the ink's box, longer side WORK_SIDE."""
    shape = crop >= 0.5
    width = stroke_width(shape) * BOX / max(crop.shape)
    low, high = STROKE_RANGE
    if low <= width <= high or width == 0:
        return crop
    grow = (np.clip(width, low, high) - width) * max(crop.shape) / BOX / 2  # per side, crop px
    if grow > 0:
        pad = int(np.ceil(grow)) + 1
        shape = ndimage.distance_transform_edt(~np.pad(shape, pad)) <= grow + 0.5  # +0.5: pixel centres
    else:
        thinner = ndimage.distance_transform_edt(shape) > 0.5 - grow
        if thinner.sum() < 0.25 * shape.sum():  # never erase the digit itself
            return crop
        shape = thinner
    rows, cols = np.flatnonzero(shape.any(1)), np.flatnonzero(shape.any(0))
    return _fit(shape[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1].astype(np.float32), WORK_SIDE)


def ink_to_mnist(ink: np.ndarray, normalise: bool = True) -> np.ndarray | None:
    """A (H, W) ink map to a (28, 28) float32 digit scaled like training (/256): floats in
    [0, 1], or uint8 in 0..255 (kept as bytes until cropped: a big canvas costs little).
    None if there is no digit (empty, or only a speck). ``normalise``: adjust the stroke width."""
    ink = np.asarray(ink)
    if ink.dtype != np.uint8:
        ink = np.clip(np.nan_to_num(ink.astype(np.float32), nan=0.0, posinf=0.0, neginf=0.0), 0.0, 1.0)
    full = 255.0 if ink.dtype == np.uint8 else 1.0
    peak = float(ink.max()) if ink.size else 0.0
    if ink.ndim != 2 or peak < MIN_PEAK * full:
        return None
    mask = ink >= INK_THRESHOLD * peak
    if np.count_nonzero(mask) < max(MIN_INK_PIXELS_ABS, MIN_INK_PIXELS * ink.size):
        return None
    rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
    crop = ink[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1].astype(np.float32) / np.float32(peak)
    crop = normalise_stroke(_fit(crop, WORK_SIDE)) if normalise else crop
    # LANCZOS on a float image: anti-aliased like MNIST's own down-sampling, no 8-bit rounding.
    small = _fit(crop, BOX)
    field = np.zeros((FIELD, FIELD), dtype=np.float32)
    top, left = (FIELD - small.shape[0]) // 2, (FIELD - small.shape[1]) // 2
    field[top:top + small.shape[0], left:left + small.shape[1]] = small
    cy, cx = ndimage.center_of_mass(field)
    field = ndimage.shift(field, (CENTRE - cy, CENTRE - cx), order=1, mode="constant", cval=0.0)
    return (np.clip(field, 0.0, 1.0) * np.float32(255 / PIXEL_SCALE)).astype(np.float32)


def preprocess(image) -> np.ndarray | None:
    """PIL image (an opened picture file) or image array in; (28, 28) float32 MNIST digit or None out."""
    ink = to_ink(image)
    return None if ink is None else ink_to_mnist(ink)

