import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from mnist_demo.preprocess import (
    BOX,
    CENTRE,
    STROKE_RANGE,
    WORK_SIDE,
    ImageInputError,
    _fit,
    ink_to_mnist,
    naive_resize,
    normalise_stroke,
    preprocess,
    stroke_width,
    to_ink,
)


def canvas(h=400, w=400, box=(100, 300, 150, 250), value=255):
    """A (h, w) uint8 ink mask with a filled rectangle (top, bottom, left, right)."""
    ink = np.zeros((h, w), dtype=np.uint8)
    t, b, left, r = box
    ink[t:b, left:r] = value
    return ink


def ring(h=400, w=400, centre=(200, 200), radius=120, width=30):
    yy, xx = np.mgrid[:h, :w]
    d = np.hypot(yy - centre[0], xx - centre[1])
    return ((np.abs(d - radius) < width / 2) * 255).astype(np.uint8)


def as_sketch(mask):
    layer = np.zeros((*mask.shape, 4), dtype=np.uint8)
    layer[..., 3] = mask
    white = np.full((*mask.shape, 4), 255, dtype=np.uint8)
    comp = white.copy()
    comp[..., :3] = 255 - mask[..., None]
    return {"background": white, "layers": [layer], "composite": comp}


def extent(digit):
    rows = np.flatnonzero((digit > 0.05).any(1))
    cols = np.flatnonzero((digit > 0.05).any(0))
    return rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1


def test_output_format_and_scale():
    d = preprocess(as_sketch(ring()))
    assert d.shape == (28, 28) and d.dtype == np.float32
    assert d.min() == 0.0 and np.isclose(d.max(), 255 / 256, atol=0.02) and d.max() <= 255 / 256


@pytest.mark.parametrize("where", [(20, 140, 20, 140), (250, 390, 260, 380), (100, 300, 150, 250)])
def test_centre_of_mass_is_centred_wherever_drawn(where):
    mask = np.zeros((400, 400), dtype=np.uint8)
    t, b, left, r = where
    mask[t:b, left:r] = ring(b - t, r - left, ((b - t) // 2, (r - left) // 2), (b - t) // 3, 10)
    d = preprocess(as_sketch(mask))
    cy, cx = ndimage.center_of_mass(d)
    assert abs(cy - CENTRE) < 0.3 and abs(cx - CENTRE) < 0.3


def test_fits_20_box_keeping_aspect_ratio():
    tall = preprocess(canvas(box=(50, 350, 180, 220)))  # 300 x 40: a "1"
    h, w = extent(tall)
    assert 19 <= h <= 22 and 2 <= w <= 6
    wide = preprocess(canvas(box=(180, 230, 50, 350)))  # 50 x 300
    h, w = extent(wide)
    assert 19 <= w <= 22 and h <= 7


def test_same_digit_any_size_gives_same_result():
    small = preprocess(as_sketch(ring(200, 200, (100, 100), 60, 15)))
    big = preprocess(as_sketch(ring(800, 800, (400, 400), 240, 60)))
    assert np.abs(small - big).max() < 0.15


@pytest.mark.parametrize("style", ["sketch", "rgba", "white_rgb", "white_L", "dark_rgb", "black_L",
                                   "float01", "bool"])
def test_every_background_and_mode_gives_the_same_digit(style):
    mask = ring()
    ref = preprocess(as_sketch(mask))
    if style == "sketch":
        image = as_sketch(mask)
    elif style == "rgba":
        rgba = np.zeros((*mask.shape, 4), np.uint8)
        rgba[..., 3] = mask
        image = Image.fromarray(rgba)
    elif style == "white_rgb":
        image = Image.fromarray(np.stack([255 - mask] * 3, -1))
    elif style == "white_L":
        image = Image.fromarray(255 - mask)
    elif style == "dark_rgb":
        image = np.stack([(40 + mask * (215 / 255)).astype(np.uint8)] * 3, -1)
    elif style == "black_L":
        image = mask
    elif style == "float01":
        image = (mask / 255.0).astype(np.float64)
    else:
        image = mask > 0
    out = preprocess(image)
    assert np.abs(out - ref).max() < 0.05


def test_opaque_rgba_upload_uses_contrast_not_alpha():
    mask = ring()
    rgba = np.full((*mask.shape, 4), 255, np.uint8)
    rgba[..., :3] = 255 - mask[..., None]  # black ink on white, alpha all 255
    assert np.abs(preprocess(Image.fromarray(rgba)) - preprocess(as_sketch(mask))).max() < 0.05


@pytest.mark.parametrize("blank", [
    None, {}, {"layers": []}, {"layers": [None]}, {"background": None, "layers": [], "composite": None},
    as_sketch(np.zeros((300, 300), np.uint8)), np.zeros((50, 50)), np.full((60, 60, 3), 255, np.uint8),
    np.zeros((100, 100, 4), np.uint8), as_sketch(canvas(box=(10, 11, 10, 12))),  # a 2-pixel speck
])
def test_nothing_drawn_is_none(blank):
    assert preprocess(blank) is None


def test_uploaded_background_without_layers_is_read():
    mask = ring()
    value = {"background": np.stack([255 - mask] * 3 + [np.full_like(mask, 255)], -1),
             "layers": [], "composite": None}
    assert np.abs(preprocess(value) - preprocess(as_sketch(mask))).max() < 0.05


def test_tiny_and_huge_inputs():
    tiny = np.zeros((8, 8), np.uint8)
    tiny[2:6, 3:5] = 255
    assert preprocess(tiny).shape == (28, 28)
    assert preprocess(np.full((1, 1), 255, np.uint8)) is None  # one pixel: its own background
    huge = np.zeros((6000, 6000), np.uint8)
    huge[1000:5000, 2500:3500] = 255
    d = preprocess(Image.fromarray(huge))
    assert extent(d)[0] >= 19


def test_huge_float_array_is_reduced_first():
    huge = np.zeros((5000, 5000), np.float32)  # would be 200 MB as float64 RGB
    huge[1000:4000, 2000:3000] = 1.0
    assert to_ink(huge).shape[0] <= 1024


@pytest.mark.parametrize("bad", [np.zeros((3, 4, 5)), np.zeros((2, 2, 2, 2)), np.zeros(7),
                                 np.array([["a"]]), "not an image", 42])
def test_unreadable_inputs_raise_a_clear_error(bad):
    with pytest.raises(ImageInputError):
        preprocess(bad)


def test_nan_and_inf_are_ignored():
    a = ring().astype(np.float32)
    a[0, 0], a[1, 1] = np.nan, np.inf
    assert preprocess(a).shape == (28, 28)
    assert np.isfinite(preprocess(a)).all()


@pytest.mark.parametrize("pen", [6, 12, 60, 90])
def test_stroke_width_is_brought_into_mnists_range(pen):
    mask = ring(width=pen) > 0
    rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
    crop = _fit(mask[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1].astype(np.float32), WORK_SIDE)
    before = stroke_width(crop >= 0.5) * BOX / WORK_SIDE
    after = normalise_stroke(crop)
    width = stroke_width(after >= 0.5) * BOX / max(after.shape)
    low, high = STROKE_RANGE
    assert not low <= before <= high  # the test draws pens outside MNIST's range...
    target = min(max(before, low), high)
    assert abs(width - target) < 0.6  # ...and they come out at (or next to) its edge
    assert abs(width - target) < abs(before - target) / 2


def test_naive_resize_is_what_the_preprocessing_fixes():
    mask = np.zeros((600, 600), np.uint8)
    mask[40:200, 40:200] = ring(160, 160, (80, 80), 55, 14)
    assert extent(naive_resize(mask))[0] < 10  # a small digit in a corner
    assert extent(preprocess(mask))[0] >= 19


def test_ink_to_mnist_is_pure():
    ink = ring().astype(np.float32) / 255
    before = ink.copy()
    assert np.array_equal(ink_to_mnist(ink), ink_to_mnist(ink))
    assert np.array_equal(ink, before)
