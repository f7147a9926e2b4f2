"""What the page sends, read and checked: the drawing's 784 numbers, the page's own weights and
the fields of its events. Every bad value gets a sentence (an ImageInputError or WeightsError)."""

import json

import gradio as gr
import numpy as np
import pytest

from mnist_demo.inference import Predictor
from mnist_demo.inputs import SHIPPED, digit_from_page, event_fields, models_from_page
from mnist_demo.page_assets import page_weights
from mnist_demo.preprocess import ImageInputError
from mnist_demo.weights import WeightsError


def test_digit_from_page_round_trips():
    digit = np.random.default_rng(0).random((28, 28)).astype(np.float32)
    assert (digit_from_page(json.loads(json.dumps(digit.reshape(-1).tolist()))) == digit).all()


@pytest.mark.parametrize("cleared", [None, "", []])
def test_a_cleared_pad_is_nothing_drawn(cleared):
    # After Clear, Undo-to-empty or Keep the page's value is null, which gr.HTML hands over as "".
    assert digit_from_page(cleared) is None


@pytest.mark.parametrize("value", [[0.5] * 783, [10**4000] * 784, ["x"] * 784, "x" * 784, {"a": 1},
                                   [float("inf")] * 784, [-0.1] * 784, [[0.5] * 28] * 28])
def test_a_bad_drawing_gets_a_sentence(value):
    with pytest.raises(ImageInputError, match="784 numbers"):
        digit_from_page(value)


def test_weights_for_another_model_are_refused():
    shipped = Predictor().models
    linear_bytes = page_weights(shipped["linear"], "x")["safetensors"]
    with pytest.raises(WeightsError, match="hold the linear model"):
        models_from_page({"linear": SHIPPED, "cnn": linear_bytes}, shipped)


def test_event_fields_are_the_object_the_page_sent_or_nothing():
    assert event_fields(gr.EventData(None, {"label": 3})) == {"label": 3}
    assert event_fields(gr.EventData(None, [1, 2])) == {}
    assert event_fields(gr.EventData(None, None)) == {}
