"""The UI's pure pieces (rendering); the wiring itself is exercised by test_api and test_browser."""

import numpy as np

from mnist_demo.inference import ModelOutput, Prediction
from mnist_demo.insight import digit_picture
from mnist_demo.ui import model_card, verdict


def prediction(linear: int, cnn: int) -> Prediction:
    def out(label):
        p = np.full(10, 0.02)
        p[label] = 0.82
        return ModelOutput(label, p.tolist())
    return Prediction(np.zeros((28, 28), np.float32), {"linear": out(linear), "cnn": out(cnn)})


def test_agreement_and_disagreement_banners():
    assert "Both models read <b>4</b>" in verdict(prediction(4, 4))
    text = verdict(prediction(1, 7))
    assert "disagree" in text and "Linear says <b>1</b>" in text and "CNN says <b>7</b>" in text
    assert verdict(None) == ""


def test_model_card_shows_label_confidence_and_ten_bars():
    card = model_card("cnn", prediction(3, 5))
    assert 'data-label="5"' in card and "82% sure" in card
    assert card.count('class="bar ') == 10 and card.count("rank1") == 1
    assert "Draw a digit" in model_card("linear", None) and "data-label" not in model_card("linear", None)


def test_preview_is_crisp_and_white_on_black():
    digit = np.zeros((28, 28), np.float32)
    digit[3, 4] = 255 / 256
    big = digit_picture(digit, 8)
    assert big.shape == (224, 224) and big.dtype == np.uint8
    assert set(np.unique(big)) == {0, 255}  # nearest-neighbour: no blur
    assert big[24:32, 32:40].min() == 255
