"""Property tests: no input, however odd, makes preprocessing or inference raise anything but the
documented ImageInputError; the result is a valid digit or None ("nothing drawn").

Fast in CI (HYPOTHESIS_PROFILE unset: 150 examples per test); `HYPOTHESIS_PROFILE=long pytest
tests/test_properties.py` runs 10,000 per test."""

import os

import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from mnist_demo.inference import Predictor
from mnist_demo.preprocess import ImageInputError, preprocess

settings.register_profile("ci", max_examples=150, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("long", max_examples=10_000, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

PREDICTOR = Predictor()

dtypes = st.sampled_from([np.uint8, np.int16, np.int64, np.float32, np.float64, np.bool_, np.uint16])
shapes = st.one_of(hnp.array_shapes(min_dims=2, max_dims=2, min_side=0, max_side=80),
                   st.tuples(st.integers(0, 60), st.integers(0, 60), st.sampled_from([1, 2, 3, 4, 5])),
                   hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=6))
arrays = dtypes.flatmap(lambda dt: shapes.flatmap(lambda sh: hnp.arrays(dt, sh)))


def check(result):
    if result is None:
        return
    assert result.shape == (28, 28) and result.dtype == np.float32
    assert np.isfinite(result).all() and result.min() >= 0 and result.max() <= 255 / 256 + 1e-6
    out = PREDICTOR.predict_digit(result)
    for model in out.outputs.values():
        assert 0 <= model.label <= 9 and abs(sum(model.probabilities) - 1) < 1e-4


def run(value):
    try:
        check(preprocess(value))
    except ImageInputError as e:
        assert str(e)  # a clear message, never a crash


@given(arrays)
def test_any_array(a):
    run(a)


@given(st.sampled_from(["L", "RGB", "RGBA", "LA", "P", "CMYK", "I", "F", "1", "I;16"]),
       st.integers(1, 70), st.integers(1, 70), st.integers(0, 2**32 - 1))
def test_any_pil_mode(mode, w, h, seed):
    rng = np.random.default_rng(seed)
    img = Image.fromarray(rng.integers(0, 256, (h, w, 4), dtype=np.uint8), "RGBA")
    if rng.random() < 0.5:  # mostly empty canvases with one blob, like real drawings
        a = np.zeros((h, w, 4), np.uint8)
        a[h // 4: 3 * h // 4 + 1, w // 3: 2 * w // 3 + 1] = 255
        img = Image.fromarray(a, "RGBA")
    run(img.convert(mode))


layer = st.one_of(st.none(), hnp.arrays(np.uint8, st.tuples(st.integers(0, 40), st.integers(0, 40),
                                                            st.sampled_from([3, 4]))))
sketch = st.fixed_dictionaries({}, optional={
    "background": layer, "composite": layer,
    "layers": st.one_of(st.none(), st.lists(layer, max_size=3))})


@given(sketch)
def test_any_sketch_dict(value):
    run(value)


@pytest.mark.parametrize("value", [None, {}, {"layers": None}, {"layers": [None, None]},
                                   np.full((30, 30), np.nan), np.full((30, 30, 4), np.inf, np.float32)])
def test_known_odd_values(value):
    run(value)
