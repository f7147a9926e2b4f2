"""The Draw tab: a drawing pad of our own (a ``gr.HTML`` with its JavaScript and CSS in
``page/``) whose answers are computed in the page itself.

The page runs ``page/recipe.js`` (the MNIST recipe of ``preprocess.py``) and ``page/models.js``
(both forward passes), fed by the chosen weights as safetensors bytes (``page/weights.js``).
Nothing reaches the server while drawing. Python only sends the weights (on load, and when the
visitor switches to their own), reads pictures, and answers through ``read_digit`` when the
page cannot run the models itself.
"""

from __future__ import annotations

from typing import NamedTuple

import gradio as gr
import numpy as np

from .collection import EMPTY, to_bytes
from .data import MnistSource
from .handlers import QUIET, bind
from .inference import Predictor
from .inputs import CLASS, MINE, SHIPPED, bytes_from_data_url, digit_from_page, models_from_page
from .models import MODEL_NAMES, MODEL_TITLES
from .page_assets import page_file, page_head, page_setup, page_weights, thumbnail
from .pictures import digit_from_picture
from .preprocess import ImageInputError
from .weights import WeightsError


def read_digit(predictor: Predictor, data) -> dict:
    """The pad's server function (``server.read_digit`` in the page). ``data``: {"image": data URL}
    or {"digit": 784 numbers}, plus "weights" when the page wants the answers too. Returns
    {"digit", "answers"} or {"error": a sentence for the visitor}."""
    try:
        if not isinstance(data, dict):
            raise ImageInputError("Expected an object with an image or a digit.")
        if "image" in data:
            digit = digit_from_picture(bytes_from_data_url(data["image"]))
            if digit is None:
                return {"error": "No digit found in the picture: it looks blank."}
        else:
            digit = digit_from_page(data.get("digit"))
            if digit is None:
                return {"error": "Nothing is drawn."}
        answers = None
        if data.get("weights") is not None:
            models = models_from_page(data["weights"], predictor.models)
            answers = Predictor(models).predict_digit(digit).as_dict()
        return {"digit": digit.reshape(-1).tolist(), "answers": answers}
    except (ImageInputError, WeightsError) as e:
        return {"error": str(e)}


def choice_models(session, choice: str) -> dict:
    """The models behind a weights choice other than the shipped ones: the visitor's own, or
    their class's (while they are in a class that published one)."""
    return {MINE: session.models, CLASS: session.seat.models}.get(choice, {})


def weight_sources(session, choices) -> dict[str, str]:
    """Whose weights answer for each model: the chosen ones where this visitor has them, else
    the shipped ones."""
    return {n: c if n in choice_models(session, c) else SHIPPED for n, c in zip(MODEL_NAMES, choices, strict=True)}


def chosen_models(shipped: dict, session, choices) -> dict:
    """The models this visitor picked: their own trained ones or their class's, where chosen and available."""
    return {n: shipped[n] if source == SHIPPED else choice_models(session, source)[n]
            for n, source in weight_sources(session, choices).items()}


def own_page_weights(session, name: str) -> dict:
    """The visitor's trained model as the page receives it, its validation accuracy recorded."""
    accuracy = session.accuracy.get(name)
    return page_weights(session.models[name], MINE, None if accuracy is None else {"valid_acc": f"{accuracy:.6f}"})


def page_weights_for(shipped_page: dict, session, name: str, source: str) -> dict:
    if source == MINE:
        return own_page_weights(session, name)
    if source == CLASS:
        return session.seat.model_page[name]
    return shipped_page[name]


def page_models(shipped_page: dict, session, choices) -> dict:
    """What the pad loads for each model: the shipped weights, or the visitor's or class's where chosen and had."""
    return {n: page_weights_for(shipped_page, session, n, source)
            for n, source in weight_sources(session, choices).items()}


def send_models(shipped_page: dict, session, *choices):
    """The visitor picked weights: the chosen ones to the page (which re-reads the drawing with
    them). "my trained weights" before any training says so and goes back to the shipped ones."""
    sources = weight_sources(session, choices)
    missing = [MODEL_TITLES[n] for n, c in zip(MODEL_NAMES, choices, strict=True) if c == MINE != sources[n]]
    if missing:
        gr.Warning(f"No trained {' or '.join(missing)} yet: train one in the Train tab. "
                   "The shipped weights answer meanwhile.")
    return gr.HTML(models=page_models(shipped_page, session, choices)), *sources.values()


def send_trained(shipped_page: dict, session, *choices):
    """A training ended: its weights to the page, which keeps them in the browser and, where the
    visitor already chose their own, answers with them at once."""
    own = {n: own_page_weights(session, n) for n in session.models}  # encoded once, for both props
    sources = weight_sources(session, choices)
    models = {n: own[n] if source == MINE else page_weights_for(shipped_page, session, n, source)
              for n, source in sources.items()}
    return gr.HTML(models=models, trained={n: weights["safetensors"] for n, weights in own.items()})


def weights_options(seat) -> list[str]:
    """The weights choices: "our class's model" while this page has one (classes/student.py)."""
    return [SHIPPED, MINE, CLASS] if seat.models else [SHIPPED, MINE]


def use_restored(shipped_page: dict, session):
    """The page gave back trained weights (a reload): they answer again, as before the reload,
    except where this student chose their class's model (the class line's one tap)."""
    seat = session.seat
    choices = [CLASS if n in seat.chosen and n in seat.models else MINE if n in session.models else SHIPPED
               for n in MODEL_NAMES]
    options = weights_options(seat)
    return gr.HTML(models=page_models(shipped_page, session, choices)), *(gr.Radio(options, value=c) for c in choices)


def random_grid(mnist: MnistSource, shipped: dict, session, *choices) -> str:
    """The tutorial's 3x3 grid: nine random validation digits, their labels and both answers,
    mistakes marked, as three rows of three that fit any screen."""
    data = mnist.for_app()
    idx = np.random.default_rng().choice(len(data.x_valid), size=9, replace=False)
    labels = Predictor(chosen_models(shipped, session, choices)).predict_batch(data.x_valid[idx])
    figures = []
    for k, i in enumerate(idx):
        true = int(data.y_valid[i])
        said = "<br>".join(f"{MODEL_TITLES[n]} {labels[n][k]}{'' if labels[n][k] == true else ' ✗'}"
                           for n in MODEL_NAMES)
        figures.append(f'<figure><img src="{thumbnail(to_bytes(data.x_valid[i]).tobytes())}" '
                       f'alt="a validation {true}"><figcaption><b>true {true}</b><br>{said}</figcaption></figure>')
    return f'<div class="grid3">{"".join(figures)}</div>'


def summary_markdown(digits) -> str:
    """The line under the pad about the visitor's kept digits."""
    if not len(digits):
        return "**Your digits:** none kept yet. Draw a digit, then tap *Keep as* its true digit."
    counts = " · ".join(f"{d}: {n}" for d, n in enumerate(digits.counts()) if n)
    return f"**Your digits:** {len(digits):,} kept ({counts}). See them, test the models on them and export them " \
           "in the *Your digits* tab."


# ---------------------------------------------------------------------------- layout and wiring


class DrawTab(NamedTuple):
    """What the other tabs read from the Draw tab."""
    pad: gr.HTML  # its value: the drawing's 784 numbers; its events: keep, restore
    choices: list[gr.Radio]  # the weights each model answers with
    summary: gr.Markdown  # the line about the visitor's kept digits
    shipped_page: dict  # the shipped weights as the page receives them, encoded once


def draw_tab(predictor: Predictor, session: gr.State, send_to_class, mnist: MnistSource) -> DrawTab:
    """``send_to_class``: the class's hook, the server function through which the pad's outbox sends
    what a student keeps to their class (classes/student.class_keep_function). ``mnist``: the host's
    (Settings.mnist), for the 3x3 grid."""
    shipped_page = {n: page_weights(predictor.models[n], SHIPPED) for n in MODEL_NAMES}  # encoded once
    reader = bind(read_digit, predictor)  # the page calls it by its name: server.read_digit
    pad = gr.HTML(
        value=None, elem_id="pad", html_template=page_file("pad.html"), js_on_load=page_file("pad.js"),
        head=page_head(), apply_default_css=False,
        server_functions=[reader, send_to_class],
        setup=page_setup(), models=shipped_page, trained=None)
    summary = gr.Markdown(summary_markdown(EMPTY), elem_id="digits-summary")
    with gr.Row():
        choices = [gr.Radio([SHIPPED, MINE], value=SHIPPED, label=f"{MODEL_TITLES[n]} weights",
                            elem_id=f"weights-{n}", interactive=True) for n in MODEL_NAMES]
    with gr.Accordion("The tutorial's 3×3 grid: nine random validation digits", open=False):
        grid_button = gr.Button("Show nine random validation digits", elem_id="grid-button")
        grid = gr.HTML(elem_id="grid", apply_default_css=False)

    quiet = QUIET
    for choice in choices:  # the page re-reads the drawing with the weights it is sent
        # .input, not .change: the handler may set the radios back, which must not call it again
        choice.input(bind(send_models, shipped_page), [session, *choices], [pad, *choices], **quiet)
    grid_button.click(bind(random_grid, mnist, predictor.models), [session, *choices], grid,
                      api_visibility="private")
    return DrawTab(pad, choices, summary, shipped_page)
