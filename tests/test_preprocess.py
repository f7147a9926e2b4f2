"""MNIST's recipe on what visitors really send: the pad's canvas (an RGBA array, transparent, the
ink in its alpha) and picture files (PNG, JPEG, GIF, WebP, BMP, TIFF; dark ink on light or light
on dark, with or without transparency), opened with PIL as the app opens uploads."""

import io

import numpy as np
import pytest
from PIL import Image, ImageDraw
from scipy import ndimage

from mnist_demo.preprocess import (
    BOX,
    CENTRE,
    RECIPE,
    STROKE_RANGE,
    WORK_SIDE,
    ImageInputError,
    _fit,
    ink_to_mnist,
    normalise_stroke,
    preprocess,
    stroke_width,
    to_ink,
)

SIDE, PEN = RECIPE["pad_side"], RECIPE["pen_width"]
FULL = 255 / 256  # full ink, scaled as in training


def pad_canvas(mask: np.ndarray, colour=(17, 17, 17)) -> np.ndarray:
    """The pad's ink canvas as the page holds it: RGBA, (0, 0, 0, 0) where nothing is drawn, the
    ink's alpha in A (its colour is the theme's and says nothing)."""
    rgba = np.zeros((*mask.shape, 4), np.uint8)
    rgba[mask > 0, :3] = colour
    rgba[..., 3] = mask
    return rgba


def mix(mask: np.ndarray, paper, ink) -> np.ndarray:
    t = mask.astype(np.float32)[..., None] / 255
    return np.round(np.asarray(paper, np.float32) * (1 - t) + np.asarray(ink, np.float32) * t).astype(np.uint8)


def picture(mask: np.ndarray, kind: str, fmt: str = "PNG") -> Image.Image:
    """The mask drawn as a picture of that kind, saved as ``fmt`` and opened again with PIL."""
    if kind == "dark on light":
        img = Image.fromarray(mix(mask, (250, 248, 240), (20, 30, 60)))
    elif kind == "light on dark":
        img = Image.fromarray(mix(mask, (30, 30, 36), (240, 240, 240)))
    elif kind == "grey, dark on light":
        img = Image.fromarray(255 - mask)
    elif kind == "transparent":  # a transparent PNG, as the pad's canvas would be saved
        img = Image.fromarray(pad_canvas(mask))
    elif kind == "transparent, light ink":
        img = Image.fromarray(pad_canvas(mask, (255, 255, 255)))
    elif kind == "grey and alpha":
        img = Image.fromarray(pad_canvas(mask)).convert("LA")
    elif kind == "opaque RGBA":  # an alpha channel that is 255 everywhere: the ink is in the colour
        rgba = np.full((*mask.shape, 4), 255, np.uint8)
        rgba[..., :3] = mix(mask, (255, 255, 255), (0, 0, 0))
        img = Image.fromarray(rgba)
    else:
        raise ValueError(kind)
    buf = io.BytesIO()
    img.save(buf, fmt, **({"quality": 85} if fmt == "JPEG" else {"lossless": True} if fmt == "WEBP" else {}))
    buf.seek(0)
    opened = Image.open(buf)
    opened.load()
    return opened


def enlarge(digit: np.ndarray, side: int = SIDE, resample=Image.Resampling.BICUBIC) -> np.ndarray:
    """A 28x28 MNIST digit as a big uint8 ink mask (255 = full ink)."""
    a = np.clip(digit / digit.max() * 255, 0, 255).astype(np.uint8)
    return np.asarray(Image.fromarray(a).resize((side, side), resample))


def centred(digit: np.ndarray) -> np.ndarray:
    """The digit moved so that its centre of mass is at CENTRE (MNIST's own are within ~0.5 px)."""
    cy, cx = ndimage.center_of_mass(digit)
    return ndimage.shift(digit, (CENTRE - cy, CENTRE - cx), order=1)


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a.ravel(), b.ravel())[0, 1])


def strokes(points, pen=PEN, side=SIDE, canvas=None) -> np.ndarray:
    """Polylines in fractions of the canvas, drawn with a round pen, as a uint8 ink mask."""
    h, w = canvas or (side, side)
    img = Image.new("L", (w, h), 0)
    draw = ImageDraw.Draw(img)
    for line in points:
        xy = [(x * w, y * h) for x, y in line]
        draw.line(xy, fill=255, width=pen, joint="curve")
        for x, y in (xy[0], xy[-1]):
            draw.ellipse((x - pen / 2, y - pen / 2, x + pen / 2, y + pen / 2), fill=255)
    return np.asarray(img)


SEVEN = [[(0.28, 0.18), (0.72, 0.18), (0.45, 0.85)]]
ZERO = [[(0.50, 0.15), (0.30, 0.30), (0.27, 0.55), (0.35, 0.80), (0.50, 0.86), (0.65, 0.80),
         (0.73, 0.55), (0.70, 0.30), (0.50, 0.15)]]


def extent(digit):
    rows = np.flatnonzero((digit > 0.05).any(1))
    cols = np.flatnonzero((digit > 0.05).any(0))
    return rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1


# ---------------------------------------------------------------------------- real digits back


def test_mnist_digits_come_back_from_a_big_pad_canvas(mnist):
    """A validation digit blown up to the pad's 448 px and preprocessed is that digit again."""
    scores = []
    for i in range(100):
        digit = mnist.x_valid[i].reshape(28, 28)
        out = preprocess(pad_canvas(enlarge(digit)))
        scores.append(similarity(out, centred(digit)))
        assert scores[-1] > 0.9, i
    assert np.median(scores) > 0.97
    # Upscaled without smoothing, the digit comes back all but exactly.
    exact = [similarity(preprocess(pad_canvas(enlarge(mnist.x_valid[i].reshape(28, 28), 280,
                                                       Image.Resampling.NEAREST))),
                        centred(mnist.x_valid[i].reshape(28, 28))) for i in range(30)]
    assert np.median(exact) > 0.995


def test_the_models_read_the_round_trip_as_the_original(mnist):
    from mnist_demo.inference import Predictor

    predictor, x, y = Predictor(), mnist.x_valid[:100], mnist.y_valid[:100]
    back = np.stack([preprocess(pad_canvas(enlarge(d.reshape(28, 28)))).ravel() for d in x])
    before, after = predictor.predict_batch(x), predictor.predict_batch(back)
    assert (after["cnn"] == before["cnn"]).mean() >= 0.97
    for name in before:  # as accurate on the round trip as on the originals, give or take noise
        print(name, (before[name] == y).mean(), (after[name] == y).mean())
        assert (after[name] == y).mean() >= (before[name] == y).mean() - 0.03, name


PICTURES = [
    ("dark on light", "PNG"), ("dark on light", "JPEG"), ("dark on light", "GIF"), ("dark on light", "BMP"),
    ("dark on light", "WEBP"), ("light on dark", "PNG"), ("light on dark", "JPEG"), ("light on dark", "TIFF"),
    ("grey, dark on light", "PNG"), ("grey, dark on light", "JPEG"), ("transparent", "PNG"),
    ("transparent", "GIF"), ("transparent", "WEBP"), ("transparent", "TIFF"), ("transparent, light ink", "PNG"),
    ("grey and alpha", "PNG"), ("opaque RGBA", "PNG"),
]


@pytest.mark.parametrize(("kind", "fmt"), PICTURES)
def test_every_kind_of_picture_file_gives_the_same_digit(mnist, kind, fmt):
    """The same digit as the pad's canvas gives: to the last grey level for lossless files, all
    but for JPEG; a transparent GIF's all-or-nothing alpha loses the soft edges, not the digit."""
    mean, top, alike = {"JPEG": (0.005, 0.05, 0.97), "GIF": (0.08, 0.8, 0.9)}.get(
        fmt if fmt == "JPEG" or kind == "transparent" else "", (0.002, 0.01, 0.97))
    for i in (0, 7, 11):  # a 3, a 3, a 2
        mask = enlarge(mnist.x_valid[i].reshape(28, 28))
        ref = preprocess(pad_canvas(mask))
        out = preprocess(picture(mask, kind, fmt))
        assert np.abs(out - ref).mean() < mean and np.abs(out - ref).max() < top, i
        assert similarity(out, centred(mnist.x_valid[i].reshape(28, 28))) > alike, i


def test_animated_gif_is_read_by_its_first_frame():
    frames = [Image.fromarray(255 - strokes(SEVEN)), Image.fromarray(255 - strokes(ZERO))]
    buf = io.BytesIO()
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:], duration=100)
    gif = Image.open(io.BytesIO(buf.getvalue()))
    gif.seek(1)  # wherever the file was left
    assert np.abs(preprocess(gif) - preprocess(pad_canvas(strokes(SEVEN)))).max() < 0.02


# ---------------------------------------------------------------------------- MNIST's recipe


def test_output_format_and_scale():
    d = preprocess(pad_canvas(strokes(ZERO)))
    assert d.shape == (28, 28) and d.dtype == np.float32
    assert d.min() == 0.0 and 0.85 <= d.max() <= FULL  # full ink where the stroke is widest


@pytest.mark.parametrize("where", [(0.0, 0.0), (0.6, 0.65), (0.0, 0.6), (0.325, 0.325)])
def test_centre_of_mass_is_centred_and_the_digit_fills_the_box_wherever_drawn(where):
    """A small '7' in a corner of the pad, or anywhere else, becomes the same centred digit."""

    def small_seven(top, left):
        return pad_canvas(strokes([[(left + 0.35 * x, top + 0.35 * y) for x, y in SEVEN[0]]], pen=10))

    d = preprocess(small_seven(*where))
    cy, cx = ndimage.center_of_mass(d)
    assert abs(cy - CENTRE) < 0.3 and abs(cx - CENTRE) < 0.3
    assert 19 <= max(extent(d)) <= 22
    assert np.abs(d - preprocess(small_seven(0.325, 0.325))).max() < 0.15


def test_fits_20_box_keeping_aspect_ratio():
    tall = preprocess(pad_canvas(strokes([[(0.5, 0.1), (0.5, 0.9)]], pen=40)))  # a "1"
    h, w = extent(tall)
    assert 19 <= h <= 22 and 2 <= w <= 7
    wide = preprocess(pad_canvas(strokes([[(0.1, 0.5), (0.9, 0.5)]], pen=40)))  # a "-"
    h, w = extent(wide)
    assert 19 <= w <= 22 and h <= 7
    img = Image.new("L", (SIDE, SIDE), 0)  # an oval, twice as tall as wide
    ImageDraw.Draw(img).ellipse((150, 50, 300, 350), outline=255, width=20)
    h, w = extent(preprocess(pad_canvas(np.asarray(img))))
    assert 19 <= h <= 22 and abs(h / w - 2) < 0.3


def test_same_digit_any_size_gives_same_result():
    small = preprocess(pad_canvas(strokes(ZERO, pen=13, side=224)))
    big = preprocess(pad_canvas(strokes(ZERO, pen=52, side=896)))
    assert np.abs(small - big).max() < 0.15


@pytest.mark.parametrize("pen", [6, 12, 90, 120])
def test_stroke_width_is_brought_into_mnists_range(pen):
    mask = strokes(ZERO, pen=pen) > 0
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


def test_thin_and_bold_pens_give_mnist_like_ink(mnist):
    """From a 4 px pen to a 90 px one, the digit's total ink stays within MNIST's own range;
    without the normalisation it would vary more than tenfold."""
    low, high = np.percentile(mnist.x_train[:10_000].sum(1), [1, 99])
    for digit in (SEVEN, ZERO):
        inks = [preprocess(pad_canvas(strokes(digit, pen=pen))).sum() for pen in (4, 8, 26, 60, 90)]
        plain = [ink_to_mnist(strokes(digit, pen=pen), normalise=False).sum() for pen in (4, 90)]
        assert low <= min(inks) and max(inks) <= high, inks
        assert max(inks) / min(inks) < 2.5 and plain[1] / plain[0] > 8


# ---------------------------------------------------------------------------- blank, odd, wrong


def specks():
    speck = np.zeros((SIDE, SIDE), np.uint8)
    speck[10:11, 10:12] = 255  # two pixels
    faint = strokes(SEVEN) // 40  # alpha 6 of 255: below the faintest ink that counts
    return [pad_canvas(speck), pad_canvas(faint)]


@pytest.mark.parametrize("blank", [
    None, np.zeros((SIDE, SIDE, 4), np.uint8), np.zeros((50, 50)), *specks(),
    picture(np.zeros((300, 300), np.uint8), "dark on light"), picture(np.zeros((300, 300), np.uint8), "light on dark"),
    picture(np.zeros((300, 300), np.uint8), "transparent"), picture(np.zeros((300, 300), np.uint8), "dark on light",
                                                                     "JPEG"),
    picture(np.zeros((300, 300), np.uint8), "transparent", "GIF"),
], ids=lambda v: type(v).__name__)
def test_nothing_drawn_is_none(blank):
    assert preprocess(blank) is None


@pytest.mark.parametrize("style", ["uint8 ink map", "float ink map", "bool ink map", "white RGB array",
                                   "dark RGB array", "float64 RGBA"])
def test_arrays_of_every_kind_give_the_same_digit(style):
    mask = strokes(ZERO)
    ref = preprocess(pad_canvas(mask))
    image = {"uint8 ink map": lambda: mask, "float ink map": lambda: mask / 255.0,
             "bool ink map": lambda: mask > 127,
             "white RGB array": lambda: mix(mask, (255, 255, 255), (0, 0, 0)),
             "dark RGB array": lambda: mix(mask, (40, 40, 40), (255, 255, 255)),
             "float64 RGBA": lambda: pad_canvas(mask) / 255.0}[style]()
    assert np.abs(preprocess(image) - ref).max() < (0.1 if style == "bool ink map" else 0.03)


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


@pytest.mark.parametrize("bad", [np.zeros((3, 4, 5)), np.zeros((2, 2, 2, 2)), np.zeros(7), np.array([["a"]]),
                                 "not an image", 42, {"layers": [], "composite": None}])
def test_unreadable_inputs_raise_a_clear_error(bad):
    with pytest.raises(ImageInputError):
        preprocess(bad)


def test_nan_and_inf_are_ignored():
    a = strokes(ZERO).astype(np.float32)
    a[0, 0], a[1, 1] = np.nan, np.inf
    assert preprocess(a).shape == (28, 28)
    assert np.isfinite(preprocess(a)).all()


def test_ink_to_mnist_is_pure():
    ink = strokes(ZERO).astype(np.float32) / 255
    before = ink.copy()
    assert np.array_equal(ink_to_mnist(ink), ink_to_mnist(ink))
    assert np.array_equal(ink, before)
