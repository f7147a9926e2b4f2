"""The Train tab's view of a model's most confident mistakes: each one's own digit, captioned with
what it is, what the model said and how sure it was."""

import base64
import io
import re

import numpy as np
from PIL import Image

from mnist_demo.collection import to_bytes
from mnist_demo.evaluation import Evaluation
from mnist_demo.ui_evaluation import mistakes_html


def test_each_mistake_shows_its_own_digit_and_what_was_said(mnist):
    confusion = np.eye(10, dtype=np.int64)
    evaluations = {"linear": Evaluation(confusion, 0.9, [(5, 7, 2, 0.994), (40, 4, 9, 0.51)]),
                   "cnn": Evaluation(confusion, 0.99, [(123, 3, 5, 0.87)])}
    html = mistakes_html(evaluations, mnist.x_valid)
    figures = re.findall(r'<figure><img src="data:image/png;base64,([^"]+)" alt="([^"]+)">'
                         r"<figcaption>([^<]+)</figcaption></figure>", html)
    assert html.count('<div class="mistakes-row">') == 2  # a row per model
    assert [caption for _, _, caption in figures] == ["Linear 7→2 99%", "Linear 4→9 51%", "CNN 3→5 87%"]
    assert figures[0][1] == "a 7 read as 2, 99% sure"
    for (png, _, _), index in zip(figures, (5, 40, 123), strict=True):
        pixels = np.asarray(Image.open(io.BytesIO(base64.b64decode(png))))
        assert pixels.shape == (28, 28) and np.array_equal(pixels.ravel(), to_bytes(mnist.x_valid[index]))
    assert mistakes_html({"cnn": Evaluation(confusion, 1.0, [])}, mnist.x_valid) == ""  # none: nothing shown
