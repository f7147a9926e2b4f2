"""The Draw tab's Python side (mnist_demo/ui_draw.py): what the page is sent, and the server
function that reads pictures and answers when the page cannot."""

import base64
import io
import json
import re

import numpy as np
import pytest
from PIL import Image

from mnist_demo.data import PIXEL_SCALE
from mnist_demo.inference import Predictor
from mnist_demo.insight import digit_picture
from mnist_demo.models import MODEL_NAMES, build_model
from mnist_demo.preprocess import RECIPE, WORK_SIDE, preprocess
from mnist_demo.ui_draw import (
    PAGE,
    digit_from_page,
    model_shapes,
    models_from_page,
    open_image,
    page_weights,
    read_digit_for,
)
from mnist_demo.weights import WeightsError, weights_from_bytes


@pytest.fixture(scope="module")
def predictor():
    return Predictor()


@pytest.fixture(scope="module")
def read_digit(predictor):
    return read_digit_for(predictor)


def data_url(image: Image.Image, fmt="PNG") -> str:
    buf = io.BytesIO()
    image.save(buf, fmt)
    return f"data:image/{fmt.lower()};base64," + base64.b64encode(buf.getvalue()).decode()


def seven(mnist) -> np.ndarray:
    return mnist.x_valid[int(np.flatnonzero(mnist.y_valid == 7)[0])].reshape(28, 28)


def test_recipe_constants_are_one_set():
    assert RECIPE["pixel_scale"] == PIXEL_SCALE and WORK_SIDE == 4 * RECIPE["box"]
    assert RECIPE["stroke_range"][0] < RECIPE["stroke_range"][1]


def test_templates_are_safe_for_gradio():
    """gr.HTML evaluates its template as a JavaScript template literal after Handlebars: a
    backtick, ${ or {{ in the HTML would break (or inject into) the page."""
    html = (PAGE / "pad.html").read_text()
    assert not re.search(r"`|\$\{|\{\{|\\", html)
    assert "<script" not in html


def test_page_gets_each_models_shapes_and_loadable_weights(predictor):
    shapes = model_shapes()
    assert shapes["linear"] == {"lin.weight": [10, 784], "lin.bias": [10]}
    assert set(shapes["cnn"]) == set(build_model("cnn").state_dict())
    sent = {"linear": page_weights(predictor.models["linear"], "shipped"),
            "cnn": page_weights(predictor.models["cnn"], "mine")}
    assert sent["cnn"]["source"] == "mine"
    for name in MODEL_NAMES:
        model, meta = weights_from_bytes(base64.b64decode(sent[name]["safetensors"]))
        assert meta["model"] == name
        for key, value in model.state_dict().items():
            assert (value == predictor.models[name].state_dict()[key]).all()


def test_a_picture_is_read_like_an_upload(read_digit, mnist):
    picture = Image.fromarray((255 - seven(mnist) * 256).clip(0, 255).astype(np.uint8)).resize((280, 280))
    reply = read_digit({"image": data_url(picture), "weights": None})
    assert reply["answers"] is None and "error" not in reply
    assert np.allclose(np.reshape(reply["digit"], (28, 28)), preprocess(picture))


def test_a_big_photo_is_decoded_small_and_read_the_same(mnist, tmp_path):
    big = Image.fromarray((255 - seven(mnist) * 256).clip(0, 255).astype(np.uint8)).resize((4000, 4000)).convert("RGB")
    big.save(tmp_path / "seven.jpg", quality=95)
    photo = open_image(str(tmp_path / "seven.jpg"))
    assert max(photo.size) < 4000 and min(photo.size) >= RECIPE["max_side"]  # decoded at a reduced scale
    digit = preprocess(photo)
    assert np.abs(digit - preprocess(big)).max() < 0.1
    assert Predictor().predict_digit(digit).outputs["cnn"].label == 7


def test_the_server_answers_for_the_page(read_digit, predictor, mnist):
    digit = seven(mnist)
    reply = read_digit({"digit": digit.reshape(-1).tolist(), "weights": dict.fromkeys(MODEL_NAMES, "shipped")})
    assert reply["answers"] == predictor.predict_digit(digit).as_dict()
    assert reply["answers"]["cnn"]["label"] == 7


def test_the_server_answers_with_the_pages_own_weights(read_digit, mnist):
    mine = build_model("linear")  # untrained: its answers differ from the shipped model's
    weights = {"linear": page_weights(mine, "mine")["safetensors"], "cnn": "shipped"}
    reply = read_digit({"digit": seven(mnist).reshape(-1).tolist(), "weights": weights})
    expected = Predictor({"linear": mine}).predict_digit(seven(mnist)).outputs["linear"]
    assert reply["answers"]["linear"]["probabilities"] == pytest.approx(expected.probabilities)


@pytest.mark.parametrize("data, message", [
    ("a string", "Expected an object"),
    ({"image": "http://example.com/x.png"}, "base64 data URL"),
    ({"image": "data:image/png;base64,@@@@"}, "damaged"),
    ({"image": "data:image/png;base64," + "A" * (15 * 2**20)}, "larger than 10 MB"),
    ({"image": "data:image/png;base64," + base64.b64encode(b"not an image").decode()}, "Could not read"),
    ({"image": data_url(Image.new("L", (64, 64), 255))}, "looks blank"),
    ({"digit": None}, "Nothing is drawn"),
    ({"digit": [0.5] * 783}, "784 numbers"),
    ({"digit": [float("nan")] * 784}, "784 numbers"),
    ({"digit": [2.0] * 784}, "between 0 and 1"),
    ({"digit": ["x"] * 784}, "784 numbers"),
    ({"digit": [0.5] * 784, "weights": {"linear": "shipped"}}, "Expected weights"),
    ({"digit": [0.5] * 784, "weights": {"linear": "shipped", "cnn": "bm90IHdlaWdodHM="}}, "cnn weights"),
    ({"digit": [0.5] * 784, "weights": {"linear": "shipped", "cnn": "%%%"}}, "cnn weights"),
])
def test_bad_input_gets_a_sentence_not_a_crash(read_digit, data, message):
    reply = read_digit(data)
    assert set(reply) == {"error"} and message in reply["error"]


def test_weights_for_another_model_are_refused(predictor):
    linear_bytes = page_weights(predictor.models["linear"], "x")["safetensors"]
    with pytest.raises(WeightsError, match="hold the linear model"):
        models_from_page({"linear": "shipped", "cnn": linear_bytes}, predictor.models)


def test_digit_from_page_round_trips():
    digit = np.random.default_rng(0).random((28, 28)).astype(np.float32)
    assert (digit_from_page(json.loads(json.dumps(digit.reshape(-1).tolist()))) == digit).all()
    assert digit_from_page(None) is None


def test_preview_is_crisp_and_white_on_black():
    digit = np.zeros((28, 28), np.float32)
    digit[3, 4] = 255 / 256
    big = digit_picture(digit, 8)
    assert big.shape == (224, 224) and big.dtype == np.uint8
    assert set(np.unique(big)) == {0, 255}  # nearest-neighbour: no blur
    assert big[24:32, 32:40].min() == 255


def test_esc_and_ctrl_z_work_right_after_drawing_with_the_mouse(browser, app_url):
    """Drawing focuses the pad (the keys' handlers live there), without scrolling the page."""
    from pad_driver import DESKTOP, DIGITS, card, draw, open_app
    from playwright.sync_api import expect

    page = open_app(browser, app_url, **DESKTOP)
    frame = page.locator("#pad .pad-frame")
    scroll = page.evaluate("() => window.scrollY")
    draw(page, DIGITS["1"])
    expect(card(page, "linear")).to_have_attribute("data-label", "1")
    assert page.evaluate("() => document.activeElement.classList.contains('pad-canvas')")
    assert page.evaluate("() => window.scrollY") == scroll
    page.keyboard.press("Escape")
    expect(frame).to_have_class(re.compile(r"\bempty\b"))
    expect(card(page, "linear")).to_contain_text("Draw a digit")
    draw(page, DIGITS["4"])  # two strokes
    expect(card(page, "cnn")).to_have_attribute("data-label", "4")
    page.keyboard.press("Control+z")  # the upright goes, the first stroke stays
    expect(card(page, "cnn")).not_to_have_attribute("data-label", "4")
    expect(page.locator("#pad .pad-undo")).to_be_enabled()
    page.keyboard.press("Control+z")
    expect(frame).to_have_class(re.compile(r"\bempty\b"))
    page.close()
