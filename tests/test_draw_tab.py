"""The Draw tab's Python side (mnist_demo/ui_draw.py): what the page is sent, and the server
function that reads pictures and answers when the page cannot."""

import base64
import functools
import io
import re

import gradio as gr
import numpy as np
import pytest
from PIL import Image

from mnist_demo.data import PIXEL_SCALE
from mnist_demo.inference import Predictor
from mnist_demo.models import MODEL_NAMES, build_model
from mnist_demo.page_assets import PAGE, model_shapes, page_weights
from mnist_demo.pictures import open_image
from mnist_demo.preprocess import RECIPE, WORK_SIDE, preprocess
from mnist_demo.ui_draw import read_digit
from mnist_demo.weights import weights_from_bytes


@pytest.fixture(scope="module")
def predictor():
    return Predictor()


@pytest.fixture(scope="module")
def read_digit_on_server(predictor):
    return functools.partial(read_digit, predictor)


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


def test_a_picture_is_read_like_an_upload(read_digit_on_server, mnist):
    picture = Image.fromarray((255 - seven(mnist) * 256).clip(0, 255).astype(np.uint8)).resize((280, 280))
    reply = read_digit_on_server({"image": data_url(picture), "weights": None})
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


def test_the_server_answers_for_the_page(read_digit_on_server, predictor, mnist):
    digit = seven(mnist)
    reply = read_digit_on_server({"digit": digit.reshape(-1).tolist(),
                                  "weights": dict.fromkeys(MODEL_NAMES, "shipped")})
    assert reply["answers"] == predictor.predict_digit(digit).as_dict()
    assert reply["answers"]["cnn"]["label"] == 7


def test_the_server_answers_with_the_pages_own_weights(read_digit_on_server, mnist):
    mine = build_model("linear")  # untrained: its answers differ from the shipped model's
    weights = {"linear": page_weights(mine, "mine")["safetensors"], "cnn": "shipped"}
    reply = read_digit_on_server({"digit": seven(mnist).reshape(-1).tolist(), "weights": weights})
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
    ({"digit": [10**4000] * 784}, "784 numbers"),
    ({"digit": []}, "Nothing is drawn"),
    ({"digit": [0.5] * 784, "weights": {"linear": "shipped"}}, "Expected weights"),
    ({"digit": [0.5] * 784, "weights": {"linear": "shipped", "cnn": "bm90IHdlaWdodHM="}}, "cnn weights"),
    ({"digit": [0.5] * 784, "weights": {"linear": "shipped", "cnn": "%%%"}}, "cnn weights"),
])
def test_bad_input_gets_a_sentence_not_a_crash(read_digit_on_server, data, message):
    reply = read_digit_on_server(data)
    assert set(reply) == {"error"} and message in reply["error"]


def test_choosing_my_weights_before_any_training_says_so_and_goes_back(predictor):
    from mnist_demo.inputs import MINE
    from mnist_demo.page_assets import SHIPPED
    from mnist_demo.session import Session
    from mnist_demo.ui_draw import send_models

    shipped_page = {n: page_weights(predictor.models[n], SHIPPED) for n in MODEL_NAMES}
    with pytest.warns(UserWarning, match="No trained Linear yet"):
        pad, *choices = send_models(shipped_page, Session(), MINE, SHIPPED)
    assert choices == [SHIPPED, SHIPPED]  # the radio shows what answers
    assert {m["source"] for m in pad.props["models"].values()} == {SHIPPED}


def test_a_finished_training_reaches_the_page_at_once(predictor):
    from mnist_demo.inputs import MINE
    from mnist_demo.page_assets import SHIPPED
    from mnist_demo.session import Session
    from mnist_demo.ui_draw import send_trained

    session = Session()
    session.models["cnn"] = build_model("cnn")
    shipped_page = {n: page_weights(predictor.models[n], SHIPPED) for n in MODEL_NAMES}
    pad = send_trained(shipped_page, session, SHIPPED, MINE)
    assert pad.props["models"]["cnn"]["source"] == MINE and pad.props["models"]["linear"]["source"] == SHIPPED
    model, meta = weights_from_bytes(base64.b64decode(pad.props["trained"]["cnn"]))  # kept by the browser
    assert meta["model"] == "cnn" and set(pad.props["trained"]) == {"cnn"}


def test_the_grid_is_three_rows_of_three_with_readable_captions(predictor, mnist):
    from mnist_demo.session import Session
    from mnist_demo.settings import from_process
    from mnist_demo.ui_draw import random_grid

    html = random_grid(from_process().mnist, predictor.models, Session(), "shipped", "shipped")
    captions = re.findall(r"<figcaption><b>true (\d)</b><br>(.*?)</figcaption>", html)
    assert html.startswith('<div class="grid3">') and html.count("<img") == len(captions) == 9
    for true, said in captions:  # each model's answer, a ✗ exactly where it differs from the truth
        for title, answer, wrong in re.findall(r"(Linear|CNN) (\d)( ✗)?", said):
            assert bool(wrong) == (answer != true), (title, true, said)


def test_trained_weights_reach_the_page_with_their_accuracy_and_come_back_after_a_reload(predictor):
    """What the page keeps records the validation accuracy, so that after a reload a stopped or
    worse run still cannot silently replace the better weights; and they answer again at once."""
    from mnist_demo.inputs import CLASS, MINE
    from mnist_demo.page_assets import SHIPPED
    from mnist_demo.session import Session
    from mnist_demo.ui_digits import restore
    from mnist_demo.ui_draw import send_trained, use_restored

    trained = Session()
    trained.keep_better({"cnn": build_model("cnn")}, {"cnn": 0.9542})
    shipped_page = {n: page_weights(predictor.models[n], SHIPPED) for n in MODEL_NAMES}
    kept = send_trained(shipped_page, trained, SHIPPED, SHIPPED).props["trained"]  # what the browser keeps
    reloaded = Session()
    restore(reloaded, gr.EventData(None, {"digits": [], "weights": kept}))
    assert reloaded.accuracy == {"cnn": 0.9542}
    assert reloaded.keep_better({"cnn": build_model("cnn")}, {"cnn": 0.5}) == {"cnn": 0.9542}  # a stopped run
    pad, *choices = use_restored(shipped_page, reloaded)
    assert [c.value for c in choices] == [SHIPPED, MINE] and pad.props["models"]["cnn"]["source"] == MINE
    # A student who chose their class's model keeps it over their own after a reload.
    reloaded.seat.models, reloaded.seat.model_page = dict(predictor.models), {
        n: page_weights(m, CLASS) for n, m in predictor.models.items()}
    reloaded.seat.chosen = ["cnn"]
    pad, *choices = use_restored(shipped_page, reloaded)
    assert [c.value for c in choices] == [SHIPPED, CLASS] and pad.props["models"]["cnn"]["source"] == CLASS
