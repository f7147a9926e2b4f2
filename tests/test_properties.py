"""Property tests on what visitors really send: drawings on the pad's canvas (RGBA arrays, the ink
in the alpha), the same drawings as picture files of every kind, and pictures in every PIL mode.
No input makes preprocessing or inference raise anything but the documented ImageInputError; a
result is a valid digit or None ("nothing drawn"); a clear drawing always gives a digit, centred
and fitted to the 20 px box, and the same digit whatever lossless file carries it.

Quick in CI (HYPOTHESIS_PROFILE unset: 50 examples per test); `HYPOTHESIS_PROFILE=long pytest
tests/test_properties.py` runs 5,000 per test."""

import io
import os

import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageDraw
from scipy import ndimage

from mnist_demo.inference import Predictor
from mnist_demo.preprocess import CENTRE, ImageInputError, preprocess

settings.register_profile("ci", max_examples=50, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("long", max_examples=5_000, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

PREDICTOR = Predictor()
FULL = 255 / 256


def check(result):
    if result is None:
        return
    assert result.shape == (28, 28) and result.dtype == np.float32
    assert np.isfinite(result).all() and result.min() >= 0 and result.max() <= FULL + 1e-6
    out = PREDICTOR.predict_digit(result)
    for model in out.outputs.values():
        assert 0 <= model.label <= 9 and abs(sum(model.probabilities) - 1) < 1e-4


def run(value):
    try:
        result = preprocess(value)
    except ImageInputError as e:
        assert str(e)  # a clear message, never a crash
        return None
    check(result)
    return result


# ---------------------------------------------------------------------------- drawings

point = st.tuples(st.floats(0.15, 0.85), st.floats(0.15, 0.85))


@st.composite
def drawings(draw):
    """A uint8 ink mask: one to three strokes with a round pen, inside the canvas's margins."""
    h, w = draw(st.integers(40, 300)), draw(st.integers(40, 300))
    pen = draw(st.integers(max(2, min(h, w) // 40), max(3, min(h, w) // 6)))
    img = Image.new("L", (w, h), 0)
    pen_down = ImageDraw.Draw(img)
    for line in draw(st.lists(st.lists(point, min_size=2, max_size=5), min_size=1, max_size=3)):
        xy = [(x * w, y * h) for x, y in line]
        pen_down.line(xy, fill=255, width=pen, joint="curve")
        for x, y in (xy[0], xy[-1]):
            pen_down.ellipse((x - pen / 2, y - pen / 2, x + pen / 2, y + pen / 2), fill=255)
    return np.asarray(img)


def pad_canvas(mask, colour=(17, 17, 17)):
    rgba = np.zeros((*mask.shape, 4), np.uint8)
    rgba[mask > 0, :3] = colour
    rgba[..., 3] = mask
    return rgba


def as_file(mask, kind: str, fmt: str) -> Image.Image:
    t = mask.astype(np.float32)[..., None] / 255
    if kind == "dark on light":
        img = Image.fromarray(np.round(250 * (1 - t) + 20 * t).astype(np.uint8).repeat(3, axis=2))
    elif kind == "light on dark":
        img = Image.fromarray(np.round(30 * (1 - t) + 240 * t).astype(np.uint8).repeat(3, axis=2))
    else:
        img = Image.fromarray(pad_canvas(mask, (255, 255, 255) if kind == "light, transparent" else (17, 17, 17)))
    buf = io.BytesIO()
    img.save(buf, fmt, **({"lossless": True} if fmt == "WEBP" else {}))
    buf.seek(0)
    return Image.open(buf)


def clear(mask) -> bool:
    """Strokes that cannot be mistaken for a speck."""
    return np.count_nonzero(mask > 127) >= 0.002 * mask.size + 20


@given(drawings())
def test_pad_canvas(mask):
    """Any drawing on the pad gives a digit, its centre of mass in the middle, filling the box."""
    digit = run(pad_canvas(mask))
    if clear(mask):
        assert digit is not None
        cy, cx = ndimage.center_of_mass(digit)
        edge = np.concatenate([digit[:2].ravel(), digit[-2:].ravel(), digit[:, :2].ravel(), digit[:, -2:].ravel()])
        if not edge.any():  # a very lopsided drawing can be pushed past the field's edge, as in MNIST
            assert abs(cy - CENTRE) < 0.35 and abs(cx - CENTRE) < 0.35
        rows, cols = np.flatnonzero((digit > 0.05).any(1)), np.flatnonzero((digit > 0.05).any(0))
        assert 18 <= max(rows[-1] - rows[0], cols[-1] - cols[0]) + 1 <= 23
        assert digit.max() > 0.3


@given(drawings(), st.sampled_from([
    ("dark on light", "PNG"), ("dark on light", "BMP"), ("dark on light", "WEBP"), ("light on dark", "PNG"),
    ("light on dark", "TIFF"), ("dark, transparent", "PNG"), ("light, transparent", "PNG"),
    ("dark, transparent", "WEBP")]))
def test_lossless_picture_files_give_the_pad_canvas_digit(mask, case):
    digit, ref = run(as_file(mask, *case)), preprocess(pad_canvas(mask))
    if ref is None or digit is None:
        assert digit is None and ref is None or not clear(mask)
    else:
        assert np.abs(digit - ref).max() < 0.02


@given(drawings(), st.sampled_from(["dark on light", "light on dark"]), st.integers(30, 95))
def test_jpeg_files(mask, kind, quality):
    img = Image.fromarray(255 - mask if kind == "dark on light" else mask)
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=quality)
    digit = run(Image.open(buf))
    if clear(mask):
        assert digit is not None
        cy, cx = ndimage.center_of_mass(digit)
        if not (digit[[0, -1]].any() or digit[:, [0, -1]].any()):
            assert abs(cy - CENTRE) < 0.5 and abs(cx - CENTRE) < 0.5


# ---------------------------------------------------------------------------- anything else


@given(st.sampled_from(["L", "RGB", "RGBA", "LA", "P", "PA", "CMYK", "I", "F", "1", "I;16", "YCbCr", "HSV"]),
       st.integers(1, 70), st.integers(1, 70), st.integers(0, 2**32 - 1))
def test_any_pil_mode(mode, w, h, seed):
    rng = np.random.default_rng(seed)
    img = Image.fromarray(rng.integers(0, 256, (h, w, 4), dtype=np.uint8), "RGBA")
    if rng.random() < 0.5:  # mostly empty canvases with one blob, like real drawings
        a = np.zeros((h, w, 4), np.uint8)
        a[h // 4: 3 * h // 4 + 1, w // 3: 2 * w // 3 + 1] = 255
        img = Image.fromarray(a, "RGBA")
    run(img.convert(mode))


@given(hnp.arrays(np.uint8, st.tuples(st.integers(0, 40), st.integers(0, 40), st.just(4))))
def test_any_rgba_array(a):
    """Whatever the canvas holds, even noise or an empty one."""
    run(a)


@pytest.mark.parametrize("value", [None, {}, {"layers": None}, np.full((30, 30), np.nan),
                                   np.full((30, 30, 4), np.inf, np.float32), np.zeros((0, 0, 4), np.uint8)])
def test_known_odd_values(value):
    run(value)
