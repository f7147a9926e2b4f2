import numpy as np
import pytest
import torch

from mnist_demo import insight
from mnist_demo.inference import load_shipped_models
from mnist_demo.preprocess import preprocess
from mnist_demo.presets import TrainConfig
from mnist_demo.training import new_model
from mnist_demo.ui_inside import look_inside, per_class_table


@pytest.fixture(scope="module")
def shipped():
    return load_shipped_models()


@pytest.fixture(scope="module")
def untrained():
    return {n: new_model(n, TrainConfig(seed=3)).eval() for n in ("linear", "cnn")}


def digits(mnist):
    return mnist.x_valid[0].reshape(28, 28), mnist.x_valid[1].reshape(28, 28)


def test_colorize_is_centred_on_zero():
    rgb = insight.colorize(np.array([[-1.0, 0.0, 1.0]]))
    assert rgb.shape == (1, 3, 3) and rgb.dtype == np.uint8
    assert rgb[0, 1].min() > 230  # zero is (near) white
    assert rgb[0, 0, 2] > rgb[0, 0, 0] and rgb[0, 2, 0] > rgb[0, 2, 2]  # negative blue, positive red


def test_shapes(shipped, mnist):
    d = digits(mnist)[0]
    assert insight.linear_templates(shipped["linear"]).shape == (2 * 140 + 6, 5 * 140 + 4 * 6, 3)
    maps, vmax = insight.evidence(shipped["linear"], d)
    assert [m.shape for _, m in maps] == [(28, 28), (28, 28)] and vmax > 0
    assert maps[0][0] == int(shipped["linear"](torch.tensor(d).reshape(1, 784)).argmax())
    assert insight.cnn_filters(shipped["cnn"]).shape == (2 * 60 + 6, 8 * 60 + 7 * 6, 3)
    layers = insight.cnn_feature_maps(shipped["cnn"], d)
    assert [x.shape for x in layers] == [(2 * 56 + 3, 8 * 56 + 7 * 3, 3), (2 * 56 + 3, 8 * 56 + 7 * 3, 3),
                                         (48, 10 * 48 + 9 * 3, 3)]


def test_evidence_sums_to_the_score(shipped, mnist):
    d = digits(mnist)[0]
    maps, _ = insight.evidence(shipped["linear"], d)
    c, m = maps[0]
    with torch.no_grad():
        score = shipped["linear"](torch.tensor(d).reshape(1, 784))[0, c].item()
    assert m.sum() + shipped["linear"].lin.bias[c].item() == pytest.approx(score, rel=1e-4)


def test_maps_change_with_the_input(shipped, mnist):
    a, b = digits(mnist)
    assert not np.array_equal(insight.cnn_feature_maps(shipped["cnn"], a)[0],
                              insight.cnn_feature_maps(shipped["cnn"], b)[0])
    assert not np.array_equal(insight.evidence(shipped["linear"], a)[0][0][1],
                              insight.evidence(shipped["linear"], b)[0][0][1])


def test_views_work_for_shipped_and_trained_weights(shipped, untrained, mnist):
    sketch = (mnist.x_valid[2].reshape(28, 28) * 256).astype(np.uint8)
    digit = preprocess(sketch)
    a, b = look_inside(shipped, digit), look_inside(untrained, digit)
    assert len(a) == len(b) == 8
    assert not np.array_equal(a[0], b[0])  # templates differ between weights
    assert all(x is not None for x in a)
    blank = look_inside(shipped, None)
    assert blank[0] is not None and blank[1] is None and "Draw a digit" in blank[-1]


def test_per_class_accuracy_table():
    from mnist_demo.evaluation import Evaluation, per_class_accuracy
    conf = np.eye(10, dtype=np.int64) * 9
    conf[3, 5] = 1
    ev = Evaluation(conf, 0.99, [])
    assert per_class_accuracy(conf)[3] == pytest.approx(0.9)
    html = per_class_table({"linear": ev, "cnn": ev})
    assert html.count("<tr>") == 11 and "90.0%" in html and "100.0%" in html


def test_look_inside_after_clear_shows_the_weights_views():
    """After Clear, Undo to empty or Keep, the page's value is null, which reaches the server as "":
    the templates and filters (which need no drawing) are still shown, with a note."""
    from mnist_demo.session import Session
    from mnist_demo.ui_inside import NOTHING_DRAWN, inside_arrays

    for cleared in ("", None, []):
        templates, top, second, filters, *maps, note = inside_arrays(load_shipped_models(), cleared, Session(),
                                                                   "shipped", "shipped")
        assert templates is not None and filters is not None and top is None and note == NOTHING_DRAWN
    *_, note = inside_arrays(load_shipped_models(), [7.0] * 784, Session(), "shipped", "shipped")
    assert "784 numbers" in note  # a damaged drawing: a sentence, and still the weights' views


def test_the_tabs_pictures_are_images_named_by_their_captions(shipped, mnist):
    """What the tab sends: each picture look_inside made, pixel for pixel, as an <img> whose alt
    text is its caption (no nameless button around it); the drawing's pictures are left empty when
    nothing is drawn, the weights' are still shown."""
    import base64
    import io
    import re

    from PIL import Image

    from mnist_demo.session import Session
    from mnist_demo.ui_inside import PICTURES, inside_arrays, show_inside

    drawing = [float(v) for v in mnist.x_valid[2]]
    sent = show_inside(shipped, drawing, Session(), "shipped", "shipped")
    *arrays, note = inside_arrays(shipped, drawing, Session(), "shipped", "shipped")
    assert len(sent) == len(PICTURES) + 1 and sent[-1] == note
    for html, array, (label, height) in zip(sent[:-1], arrays, PICTURES.values(), strict=True):
        shown = re.fullmatch(r'<figure class="inside-picture"><figcaption>([^<]+)</figcaption>'
                             r'<img alt="([^"]+)" src="data:image/png;base64,([^"]+)" style="([^"]+)"></figure>', html)
        assert shown, html[:300]
        caption, alt, png, style = shown.groups()
        assert caption == alt == label.replace("&", "&amp;")
        assert style == f"width: min(100%, {round(height * array.shape[1] / array.shape[0])}px)"
        assert np.array_equal(np.asarray(Image.open(io.BytesIO(base64.b64decode(png)))), array)
    blank = show_inside(shipped, "", Session(), "shipped", "shipped")
    assert [bool(html) for html in blank[:-1]] == [True, False, False, True, False, False, False]
