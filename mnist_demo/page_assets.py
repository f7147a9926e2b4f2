"""What the Draw tab's page is made of and what it is told: its files in ``page/``, and
``page_setup()``, every value the page shares with Python, sent once as the pad's ``setup``.

The page hard-codes none of these: tests/test_page_parity.py checks ``page_setup()`` against
Python's own truth, and the page's Node tests (tests/js/helpers.js) read it from here too.
"""

from __future__ import annotations

import base64
import functools
import hashlib
from pathlib import Path

import numpy as np

from .collection import CAP, HOLD_OUT_EVERY
from .digit_files import png_bytes
from .inference import WEIGHTS_DIR
from .models import MODEL_NAMES, MODEL_TITLES, build_model
from .page_data import IMMUTABLE
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
# The page's scripts (and the shipped weights its trainings start from: shipped_urls) are served as
# files, each under its content's hash (script_url): a browser keeps them for good, and fetches one
# again only when it changes. Inlined, the scripts made every page load and every session's copy of
# the app's configuration 324 kB larger (the Train tab's and the teacher's training code twice, and
# once more each as a worker's source).
SCRIPTS_ROUTE = "page-code"
SHIPPED = "shipped"  # the weights that come with the app: a radio choice, a weights source, a server choice
MINE = "my trained weights"  # the visitor's choice of their own weights
CLASS = "our class's model"  # a class member's choice of the model their class trained (classes/student.py)
# What an answer card says of whose weights answer, by source.
SOURCE_NOTES = {SHIPPED: "", MINE: "· your weights", CLASS: "· your class's model"}


def page_file(name: str) -> str:
    return (PAGE / name).read_text(encoding="utf-8")


def served_file(name: str) -> Path | None:
    """The file ``page-code/HASH/NAME`` serves: a script of ``page/``, or a shipped model's
    safetensors file (the Train tab's and the teacher's in-page trainings start from it); else None."""
    if "/" in name or "\\" in name:
        return None
    if name.endswith(".js") and (PAGE / name).is_file():
        return PAGE / name
    if name.endswith(".safetensors") and name.removesuffix(".safetensors") in MODEL_NAMES:
        return WEIGHTS_DIR / name
    return None


@functools.cache
def served(name: str) -> tuple[bytes, str]:
    """What ``page-code/HASH/NAME`` serves, and its hash: read once, as the pad's and the server's
    shipped models are at the app's start (a ``train --out weights`` while it runs changes none)."""
    data = served_file(name).read_bytes()
    return data, hashlib.sha256(data).hexdigest()[:16]


def script_url(name: str) -> str:
    """Where the page loads ``page/NAME`` (or a shipped model's ``NAME.safetensors``), relative to
    the app: its content's hash is in the path."""
    return f"{SCRIPTS_ROUTE}/{served(name)[1]}/{name}"


def shipped_urls() -> dict[str, str]:
    """Where a page fetches each shipped model's weights to train from, when it does: the pad has
    them already, in its ``models``, to answer at once; sent again in the two trainers' own props,
    they doubled the page (gzipped, 209 kB of which 99 kB were those two copies)."""
    return {name: script_url(f"{name}.safetensors") for name in MODEL_NAMES}


def script_tags(names) -> str:
    """``<script src>`` tags, for a component's ``head``: Gradio loads each source once however
    many components name it, in order, and runs ``js_on_load`` after them."""
    return "".join(f'<script src="{script_url(name)}"></script>' for name in names)


def page_head() -> str:
    """The pure scripts, for the pad's ``head``, and the styles for what lies outside the app."""
    return script_tags(PAGE_SCRIPTS) + f"<style>{page_file('outside.css')}</style>"


def train_head() -> str:
    """The Train tab's page code, for its page trainer's ``head``."""
    return script_tags(TRAIN_TAB_SCRIPTS)


def class_train_head() -> str:
    """The teacher's in-page class training code, for its box's ``head``: the Train tab's may not
    be in the page yet (a tab not shown has no components), so it names its own."""
    return script_tags(CLASS_TRAIN_SCRIPTS)


def worker_scripts() -> list[str]:
    """What a training Web Worker loads (``importScripts``, from this app): the training code and
    train_worker.js."""
    return [script_url(name) for name in (*TRAINING_SCRIPTS, "train_worker.js")]


async def script_route(request):
    """``page-code/HASH/NAME``: a script of ``page/`` (or a shipped model's weights) at its current
    hash, cached for good; any other path is 404 (an old hash: the page was made by an earlier
    version of the app)."""
    from starlette.responses import PlainTextResponse, Response

    name, digest = request.path_params["name"], request.path_params["sha"]
    if served_file(name) is None or served(name)[1] != digest:
        return PlainTextResponse("No such file: reload the page.", status_code=404)
    kind = "text/javascript; charset=utf-8" if name.endswith(".js") else "application/octet-stream"
    return Response(served(name)[0], media_type=kind, headers={"Cache-Control": IMMUTABLE})


def routes() -> list:
    """The scripts' route, for Gradio's FastAPI app (``app_kwargs``'s ``routes``)."""
    from starlette.routing import Route

    return [Route(f"/{SCRIPTS_ROUTE}/{{sha}}/{{name}}", script_route, methods=["GET", "HEAD"])]


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


def png_data_url(picture: np.ndarray) -> str:
    """A picture (``digit_files.png_bytes`` takes) as a PNG data URL, for an <img> in the app's HTML."""
    return "data:image/png;base64," + base64.b64encode(png_bytes(picture)).decode()


@functools.lru_cache(maxsize=4 * CAP)  # a collection's digits, and those of its test cells
def thumbnail(pixels: bytes) -> str:
    """A kept digit as a PNG data URL (28x28, white on black; the page enlarges it, pixelated)."""
    return png_data_url(np.frombuffer(pixels, np.uint8))
