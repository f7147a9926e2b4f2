"""The Gradio app: the tabs put together. Each tab lives in its own module (ui_draw, ui_train,
ui_inside) and every handler here is a line or two; the page's JavaScript and CSS are in page/."""

from __future__ import annotations

import os

import gradio as gr
import numpy as np

from .collection import EMPTY
from .inference import Predictor
from .insight import digit_picture
from .models import MODEL_NAMES, MODEL_TITLES
from .preprocess import ImageInputError
from .session import Session, close_session, stop_on_tab_close
from .settings import Settings, from_env
from .ui_digits import DigitsTab, summary_markdown
from .ui_draw import MAX_PICTURE_BYTES, DrawTab, digit_from_page, open_image, page_file
from .ui_evaluation import mnist_or_error
from .ui_inside import build_inside_tab, evaluation, look_inside
from .ui_train import train_tab

INTRO = """
# ✍️ MNIST Draw & Train
Draw a digit (0–9). Two models read it as you draw, right here in your browser: the tutorial's
**linear model** (one weight template per digit) and its small **CNN** (three convolutions). Both
see the same 28×28 picture, prepared the way MNIST's digits were: cropped to the ink, fitted into
20×20 and centred on its centre of mass.
"""


def build_demo(predictor: Predictor | None = None, settings: Settings | None = None) -> gr.Blocks:
    predictor = predictor or Predictor()
    settings = settings or from_env(os.environ)

    def classify(path: str | None) -> dict:
        """One image file of any size and background in; both models' answers out."""
        if not path:
            raise gr.Error("Send one image file (PNG, JPEG, GIF, WebP, BMP...).")
        try:
            prediction = predictor.predict(open_image(path))
        except ImageInputError as e:
            raise gr.Error(str(e)) from None
        if prediction is None:
            raise gr.Error("No digit found in the image: it looks blank.")
        return prediction.as_dict()

    def random_grid(session: Session, *choices):
        data = mnist_or_error()
        idx = np.random.default_rng().choice(len(data.x_valid), size=9, replace=False)
        labels = Predictor(draw.chosen(session, choices)).predict_batch(data.x_valid[idx])
        items = []
        for k, i in enumerate(idx):
            true = int(data.y_valid[i])
            said = " · ".join(f"{MODEL_TITLES[n]} {labels[n][k]}{'' if labels[n][k] == true else ' ✗'}"
                              for n in MODEL_NAMES)
            items.append((digit_picture(data.x_valid[i], 4), f"true {true} — {said}"))
        return items

    def inside_views(value, session: Session, *choices):
        try:
            digit = digit_from_page(value)
        except ImageInputError as e:
            raise gr.Error(str(e)) from None
        return look_inside(draw.chosen(session, choices), digit)

    # Gradio's copies of the files it served (weight downloads) are removed after an hour.
    with gr.Blocks(title="MNIST Draw & Train", delete_cache=(3600, 3600)) as demo:
        # Per browser session; when the session ends, its training stops and its files go.
        session = gr.State(Session(), delete_callback=close_session)
        gr.Markdown(INTRO)
        with gr.Tab("Draw"):
            digits_summary = gr.Markdown(summary_markdown(EMPTY), elem_id="digits-summary", render=False)
            draw = DrawTab(predictor, below_pad=digits_summary)
            with gr.Accordion("The tutorial's 3×3 grid: nine random validation digits", open=False):
                grid_button = gr.Button("Show nine random validation digits", elem_id="grid-button")
                grid = gr.Gallery(columns=3, height="auto", elem_id="grid", show_label=False,
                                  object_fit="contain")
        with gr.Tab("Your digits", elem_id="digits-tab") as digits_tab_ui:
            digits_tab = DigitsTab(session, draw)
        with gr.Tab("Train"):
            train_tab(session, settings, predictor.models)
        with gr.Tab("Look inside", elem_id="inside-tab") as inside_tab:
            inside = build_inside_tab()
        with gr.Tab("API"):
            gr.Markdown("`/classify`: one image file in, both models' answers out as JSON. "
                        "See the README for a `gradio_client` example.")
            api_file = gr.File(label="Image", file_types=["image"], type="filepath")
            api_button = gr.Button("Classify")
            api_json = gr.JSON(label="Result")

        quiet = dict(api_visibility="private", show_progress="hidden")
        for choice in draw.choices:  # the page re-reads the drawing with the weights it is sent
            choice.change(draw.send_models, [session, *draw.choices], draw.pad, **quiet)
        # Look inside is computed only while it is shown, from the 784 numbers the page prepared.
        inside_tab.select(inside_views, [draw.pad, session, *draw.choices], inside.every, **quiet)
        grid_button.click(random_grid, [session, *draw.choices], grid, api_visibility="private")
        inside.button.click(lambda s, *c: evaluation(draw.chosen(s, c), "Chosen"), [session, *draw.choices],
                            inside.result, api_visibility="private")
        api_button.click(classify, api_file, api_json, api_name="classify",
                         concurrency_limit=settings.classify_concurrency)
        digits_tab.wire(session, digits_summary, digits_tab_ui)
        demo.unload(stop_on_tab_close)
    return demo


LAUNCH_OPTIONS = dict(css=page_file("app.css"), max_file_size=MAX_PICTURE_BYTES, mcp_server=False,
                      enable_monitoring=False, show_error=False)


def queue_options(settings: Settings) -> dict:
    """Requests waiting beyond the queue's size are refused at once with Gradio's "queue is full"."""
    return dict(max_size=settings.queue_size)
