"""What the Draw tab's page is made of and what it is told: its files in ``page/``, and
``page_setup()``, every value the page shares with Python, sent once as the pad's ``setup``.

The page hard-codes none of these: tests/test_page_parity.py checks ``page_setup()`` against
Python's own truth, and the page's Node tests (tests/js/helpers.js) read it from here too.
"""

from __future__ import annotations

import base64
import functools
from pathlib import Path

import numpy as np

from .collection import CAP, HOLD_OUT_EVERY
from .digit_files import png_bytes
from .models import MODEL_NAMES, MODEL_TITLES, build_model
from .preprocess import RECIPE
from .presets import TRAINING
from .weights import MAX_BYTES, weights_to_bytes

PAGE = Path(__file__).with_name("page")
# Pure code, loaded in this order before pad.js (the wiring) runs.
PAGE_SCRIPTS = ("recipe.js", "weights.js", "models.js", "strokes.js", "answers.js", "store.js", "class_store.js",
                "class_line.js")
# The page's training code, loaded in this order in the Train tab's page and in each of its Web
# Workers (trainer.js needs the three before it); the worker adds train_worker.js.
TRAINING_SCRIPTS = ("train.js", "optim.js", "augment.js", "trainer.js")
# The Train tab's "This device" mode: the training code, then what it needs around it (page_trainer.js wires them).
TRAIN_TAB_SCRIPTS = (*TRAINING_SCRIPTS, "weights.js", "store.js", "mnist_data.js", "train_chart.js", "train_run.js",
                     "train_box.js")
# The Class tab's "This device" mode for the teacher: the same, and the class's own pure parts.
CLASS_TRAIN_SCRIPTS = (*TRAIN_TAB_SCRIPTS, "class_training.js")
SHIPPED = "shipped"  # the weights that come with the app: a radio choice, a weights source, a server choice
MINE = "my trained weights"  # the visitor's choice of their own weights
CLASS = "our class's model"  # a class member's choice of the model their class trained (classes/student.py)
# What an answer card says of whose weights answer, by source.
SOURCE_NOTES = {SHIPPED: "", MINE: "· your weights", CLASS: "· your class's model"}


def page_file(name: str) -> str:
    return (PAGE / name).read_text(encoding="utf-8")


def page_head() -> str:
    """The pure scripts, inlined for the pad's ``head``, and the styles for what lies outside the app."""
    return "".join(f"<script>{page_file(name)}</script>" for name in PAGE_SCRIPTS) + \
        f"<style>{page_file('outside.css')}</style>"


def train_head() -> str:
    """The Train tab's page code, inlined for its page trainer's ``head``."""
    return "".join(f"<script>{page_file(name)}</script>" for name in TRAIN_TAB_SCRIPTS)


def class_train_head() -> str:
    """The teacher's in-page class training code, inlined for its box's ``head``: the Train tab's
    may not be in the page yet (a tab not shown has no components), so it brings its own."""
    return "".join(f"<script>{page_file(name)}</script>" for name in CLASS_TRAIN_SCRIPTS)


def worker_source() -> str:
    """A training Web Worker's whole script: the training code and train_worker.js (the page
    makes it a Blob URL: a worker loads nothing from the network)."""
    return "\n".join(page_file(name) for name in (*TRAINING_SCRIPTS, "train_worker.js"))


def model_shapes() -> dict[str, dict[str, list[int]]]:
    """Every tensor's shape, read off the PyTorch models: the page checks weights against these."""
    return {name: {k: list(v.shape) for k, v in build_model(name).state_dict().items()} for name in MODEL_NAMES}


def page_weights(model, source: str, metadata: dict[str, str] | None = None) -> dict:
    """A model as the page receives it: its safetensors bytes (base64), with ``metadata`` (a
    trained model's validation accuracy: the page keeps it, and a reload must still know what a
    new run has to beat), and where they came from."""
    return {"source": source, "safetensors": base64.b64encode(weights_to_bytes(model, metadata)).decode()}


def page_setup() -> dict:
    """The pad's ``setup``: plain JSON, read by pad.js and by the page's Node tests."""
    return {
        "recipe": RECIPE,  # recipe.json: the 28x28 field, pixel scale, pad side, pen width...
        "names": list(MODEL_NAMES),  # the answer cards, in this order
        "titles": MODEL_TITLES,
        "shapes": model_shapes(),
        "shipped": SHIPPED,
        "mine": MINE,
        "class_model": CLASS,  # a weights source: the pad's class line says when it answers
        "source_notes": SOURCE_NOTES,
        "max_weights_bytes": MAX_BYTES,
        "training": TRAINING,  # presets.json: the recipes, the optimizers' and one-cycle's options (page/trainer.js)
        "hold_out_every": HOLD_OUT_EVERY,  # one of a visitor's drawings in this many is held out of training
    }


@functools.lru_cache(maxsize=4 * CAP)  # a collection's digits, and those of its test cells
def thumbnail(pixels: bytes) -> str:
    """A kept digit as a PNG data URL (28x28, white on black; the page enlarges it, pixelated)."""
    return "data:image/png;base64," + base64.b64encode(png_bytes(np.frombuffer(pixels, np.uint8))).decode()
