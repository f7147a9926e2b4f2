import io
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import torch
from PIL import Image

from mnist_demo.inference import Predictor
from mnist_demo.models import build_model


@pytest.fixture(scope="module")
def predictor():
    return Predictor()


def test_both_models_on_validation_digits(predictor, mnist):
    for i in range(20):
        p = predictor.predict_digit(mnist.x_valid[i].reshape(28, 28))
        assert set(p.outputs) == {"linear", "cnn"}
        for out in p.outputs.values():
            assert len(out.probabilities) == 10 and abs(sum(out.probabilities) - 1) < 1e-5
            assert out.label == int(np.argmax(out.probabilities))
    labels = predictor.predict_batch(mnist.x_valid[:500])
    assert (labels["cnn"] == mnist.y_valid[:500]).mean() > 0.95


def test_json_shape_and_agreement(predictor, mnist):
    d = predictor.predict_digit(mnist.x_valid[0].reshape(28, 28)).as_dict()
    assert set(d) == {"linear", "cnn", "agree"}
    assert isinstance(d["cnn"]["label"], int) and len(d["cnn"]["probabilities"]) == 10
    assert d["agree"] == (d["linear"]["label"] == d["cnn"]["label"])


def test_disagreement_is_reported(mnist):
    torch.manual_seed(0)
    fixed = build_model("linear")
    with torch.no_grad():
        fixed.lin.weight.zero_()
        fixed.lin.bias.copy_(torch.arange(10.0))  # always says 9
    p = Predictor({"linear": fixed, "cnn": Predictor().models["cnn"]})
    out = p.predict_digit(mnist.x_valid[0].reshape(28, 28))  # a 3
    assert out.outputs["linear"].label == 9 and out.outputs["cnn"].label == 3
    assert out.agree is False


def png(array: np.ndarray) -> Image.Image:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, "PNG")
    buf.seek(0)
    return Image.open(buf)


def test_a_picture_file_is_read_as_the_digit_it_shows(predictor, mnist):
    """What /classify does: a picture file (here a validation digit, black on white, 280 px)
    opened with PIL, preprocessed, read by both models."""
    for i in range(20):
        digit = mnist.x_valid[i].reshape(28, 28)
        ink = Image.fromarray((digit / digit.max() * 255).astype(np.uint8)).resize((280, 280), Image.Resampling.BICUBIC)
        out = predictor.predict(png(255 - np.asarray(ink)))
        assert out.outputs["cnn"].label == predictor.predict_digit(digit).outputs["cnn"].label == mnist.y_valid[i]


def test_blank_is_none(predictor):
    assert predictor.predict(None) is None
    assert predictor.predict(np.zeros((100, 100, 4), np.uint8)) is None  # the pad's canvas, untouched
    assert predictor.predict(png(np.full((100, 100, 3), 255, np.uint8))) is None  # a white picture


def test_many_threads_at_once_give_the_same_answers(predictor, mnist):
    digits = [mnist.x_valid[i].reshape(28, 28) for i in range(64)]
    expected = [predictor.predict_digit(d).as_dict() for d in digits]
    with ThreadPoolExecutor(8) as pool:
        got = list(pool.map(lambda d: predictor.predict_digit(d).as_dict(), digits * 4))
    assert got == expected * 4
