"""The Gradio app. It only wires components to the core: preprocessing, inference and data live
in their own modules, and every handler here is a few lines."""

from __future__ import annotations

import os

import gradio as gr
import numpy as np
from PIL import Image, UnidentifiedImageError

from .inference import Prediction, Predictor
from .insight import digit_picture
from .models import MODEL_NAMES, MODEL_TITLES
from .preprocess import ImageInputError
from .ui_inside import build_inside_tab, drawing_views, evaluation, look_inside, weight_views
from .ui_train import TrainSession, build_train_tab, mnist_or_error, stop_on_tab_close, stop_session

CANVAS = 448  # 16 x 28: a comfortable square for mouse or finger
BRUSH = 26  # with CANVAS, a normally sized digit gets a stroke close to MNIST's pen
PREVIEW_ZOOM = 8  # 28 px -> 224 px, nearest-neighbour so the pixels stay crisp
MAX_UPLOAD = "10mb"
# /classify requests handled at once; each is ~5 ms of work, the rest is Gradio's own overhead.
CLASSIFY_CONCURRENCY = int(os.environ.get("MNIST_CLASSIFY_CONCURRENCY", "8"))

INTRO = """
# ✍️ MNIST Draw & Train
Draw a digit (0–9) below. Two models read it as you draw: the tutorial's **linear model**
(one weight template per digit) and its small **CNN** (three convolutions). Both see the same
28×28 picture, prepared the way MNIST's digits were: cropped to the ink, fitted into 20×20 and
centred on its centre of mass.
"""

CSS = """
#sketch { max-width: 480px; margin: 0 auto; }
#sketch canvas { touch-action: none; }
.model-card { border: 1px solid var(--border-color-primary); border-radius: var(--radius-lg);
  padding: 12px 14px; background: var(--block-background-fill); }
.model-card h3 { margin: 0 0 4px 0; font-size: var(--text-lg); }
.model-card .top { font-size: 3.2em; font-weight: 700; line-height: 1.1; color: var(--body-text-color); }
.model-card .conf { color: var(--body-text-color-subdued); margin-left: 6px; }
.bars { display: grid; grid-template-columns: repeat(10, minmax(0, 1fr)); gap: 4px; align-items: end;
  height: 110px; margin-top: 8px; }
.bar { display: flex; flex-direction: column; justify-content: flex-end; align-items: center; height: 100%; }
.bar .fill { width: 100%; min-height: 2px; border-radius: 3px 3px 0 0; background: var(--neutral-400); }
.bar.rank1 .fill { background: var(--color-accent); }
.bar.rank2 .fill, .bar.rank3 .fill { background: var(--color-accent-soft); border: 1px solid var(--color-accent); }
.bar .pct { font-size: 11px; color: var(--body-text-color-subdued); min-height: 14px; }
.bar.rank1 .pct, .bar.rank2 .pct, .bar.rank3 .pct { font-weight: 700; color: var(--body-text-color); }
.bar .digit { font-size: 13px; color: var(--body-text-color); }
.verdict { font-size: var(--text-lg); padding: 6px 10px; border-radius: var(--radius-md); }
.verdict.disagree { background: var(--color-accent-soft); border: 1px solid var(--color-accent); }
.placeholder { color: var(--body-text-color-subdued); padding: 24px 0; text-align: center; }
.per-class td { white-space: nowrap; }
.acc-bar { display: inline-block; height: 10px; background: var(--color-accent); border-radius: 2px; }
.confusion td, .confusion th, .per-class td, .per-class th { padding: 2px 6px; text-align: right; }
@media (max-width: 640px) {  /* phones: the canvas frame as tall as it is wide, compact bars */
  #sketch { height: calc(100vw + 16px) !important; }
  .bar .pct { font-size: 9px; white-space: nowrap; }
  .model-card { padding: 8px; }
}
"""

# Gradio's Sketchpad waits for a click on its Brush button before it draws ("select the draw
# tool to start"). Visitors should draw at once, so the page clicks it for them, once it exists.
SELECT_BRUSH_JS = """
() => {
  const pick = () => {
    const root = document.querySelector('#sketch');
    const brush = root && root.querySelector('button[aria-label="Brush"], button[title="Brush"]');
    if (brush) { brush.click(); return true; }
    return false;
  };
  let tries = 0;
  const timer = setInterval(() => { if (pick() || ++tries > 100) clearInterval(timer); }, 100);
}
"""

SHIPPED, MINE = "shipped", "my trained weights"
PLACEHOLDER = '<div class="placeholder">Draw a digit</div>'


# ---------------------------------------------------------------------------- rendering


def model_card(name: str, prediction: Prediction | None) -> str:
    title = MODEL_TITLES[name]
    if prediction is None:
        return f'<div class="model-card" data-model="{name}"><h3>{title}</h3>{PLACEHOLDER}</div>'
    out = prediction.outputs[name]
    ranks = {digit: r + 1 for r, digit in enumerate(np.argsort(out.probabilities)[::-1][:3])}
    bars = "".join(
        f'<div class="bar rank{ranks.get(d, 0)}" title="{d}: {p:.1%}">'
        f'<span class="pct">{f"{p:.0%}" if d in ranks else ""}</span>'
        f'<div class="fill" style="height:{max(p, 0.01) * 80:.1f}%"></div><span class="digit">{d}</span></div>'
        for d, p in enumerate(out.probabilities))
    return (f'<div class="model-card" data-model="{name}" data-label="{out.label}" '
            f'data-confidence="{out.probabilities[out.label]:.6f}"><h3>{title}</h3>'
            f'<span class="top">{out.label}</span><span class="conf">{out.probabilities[out.label]:.0%} sure</span>'
            f'<div class="bars">{bars}</div></div>')


def verdict(prediction: Prediction | None) -> str:
    if prediction is None:
        return ""
    labels = {name: out.label for name, out in prediction.outputs.items()}
    if prediction.agree:
        return f'<div class="verdict agree">Both models read <b>{labels["cnn"]}</b>.</div>'
    said = ", ".join(f"{MODEL_TITLES[n]} says <b>{d}</b>" for n, d in labels.items())
    return f'<div class="verdict disagree">⚠️ The models disagree: {said}.</div>'


# ---------------------------------------------------------------------------- handlers


def read_upload(path: str | None) -> Image.Image:
    """An uploaded file as a PIL image (its first frame if animated), or a clear gr.Error."""
    if not path:
        raise gr.Error("Send one image file (PNG, JPEG, GIF, WebP, BMP...).")
    try:
        with Image.open(path) as img:
            img.load()
            return img.copy()
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as e:
        raise gr.Error(f"Could not read the file as an image ({type(e).__name__}).") from None


def build_demo(predictor: Predictor | None = None) -> gr.Blocks:
    predictor = predictor or Predictor()

    def chosen(session: TrainSession, choices) -> dict:
        """The models this visitor picked: their own trained ones where chosen and available."""
        return {n: session.models[n] if choice == MINE and n in session.models else predictor.models[n]
                for n, choice in zip(MODEL_NAMES, choices, strict=True)}

    def on_sketch(value, session: TrainSession, *choices):
        prediction = Predictor(chosen(session, choices)).predict(value)
        digit = None if prediction is None else prediction.digit  # kept for the Look inside views
        preview = None if digit is None else digit_picture(digit, PREVIEW_ZOOM)
        return (*(model_card(n, prediction) for n in MODEL_NAMES), verdict(prediction), preview, digit)

    def classify(path: str | None) -> dict:
        """One image file of any size and background in; both models' answers out."""
        try:
            prediction = predictor.predict(read_upload(path))
        except ImageInputError as e:
            raise gr.Error(str(e)) from None
        if prediction is None:
            raise gr.Error("No digit found in the image: it looks blank.")
        return prediction.as_dict()

    def random_grid(session: TrainSession, *choices):
        data = mnist_or_error()
        idx = np.random.default_rng().choice(len(data.x_valid), size=9, replace=False)
        labels = Predictor(chosen(session, choices)).predict_batch(data.x_valid[idx])
        items = []
        for k, i in enumerate(idx):
            true = int(data.y_valid[i])
            said = " · ".join(f"{MODEL_TITLES[n]} {labels[n][k]}{'' if labels[n][k] == true else ' ✗'}"
                              for n in MODEL_NAMES)
            items.append((digit_picture(data.x_valid[i], 4), f"true {true} — {said}"))
        return items

    with gr.Blocks(title="MNIST Draw & Train") as demo:
        # Per browser session; when the session ends, any training it runs is stopped.
        session = gr.State(TrainSession(), delete_callback=stop_session)
        digit = gr.State(None)  # the last drawing as the models saw it (28x28), or None
        gr.Markdown(INTRO)
        with gr.Tab("Draw"):
            with gr.Row(equal_height=False):
                with gr.Column(scale=5, min_width=300):
                    sketch = gr.Sketchpad(
                        elem_id="sketch", label="Draw here", canvas_size=(CANVAS, CANVAS),
                        fixed_canvas=True, layers=False, transforms=(), show_label=False,
                        brush=gr.Brush(default_size=BRUSH, colors=["#000000"], color_mode="fixed"),
                        buttons=[], height=CANVAS + 80)
                    clear = gr.Button("Clear", elem_id="clear")
                    with gr.Row():
                        choices = [gr.Radio([SHIPPED, MINE], value=SHIPPED, label=f"{MODEL_TITLES[n]} weights",
                                            elem_id=f"weights-{n}", interactive=True) for n in MODEL_NAMES]
                with gr.Column(scale=5, min_width=300):
                    verdict_box = gr.HTML(elem_id="verdict")
                    with gr.Row():
                        cards = [gr.HTML(model_card(n, None), elem_id=f"card-{n}") for n in MODEL_NAMES]
                    preview = gr.Image(label="What the models see (28×28)", elem_id="preview",
                                       interactive=False, height=240, buttons=[], image_mode="L")
            with gr.Accordion("The tutorial's 3×3 grid: nine random validation digits", open=False):
                grid_button = gr.Button("Show nine random validation digits", elem_id="grid-button")
                grid = gr.Gallery(columns=3, height="auto", elem_id="grid", show_label=False,
                                  object_fit="contain")
        with gr.Tab("Train"):
            build_train_tab(session, predictor.models)
        with gr.Tab("Look inside", elem_id="inside-tab"):
            inside = build_inside_tab()
        with gr.Tab("API"):
            gr.Markdown("`/classify`: one image file in, both models' answers out as JSON. "
                        "See the README for a `gradio_client` example.")
            api_file = gr.File(label="Image", file_types=["image"], type="filepath")
            api_button = gr.Button("Classify")
            api_json = gr.JSON(label="Result")

        outputs = [*cards, verdict_box, preview, digit]
        predict_inputs = [sketch, session, *choices]
        quiet = dict(api_visibility="private", show_progress="hidden")
        # Look inside follows each prediction (.then): the pictures never hold up the answers,
        # and they reuse the digit the prediction already prepared.
        sketch.change(on_sketch, predict_inputs, outputs, trigger_mode="always_last", concurrency_limit=4,
                      **quiet).then(lambda d, s, *c: drawing_views(chosen(s, c), d), [digit, session, *choices],
                                    inside.drawing, **quiet)
        for choice in choices:  # switching weights re-reads the current drawing and redraws every view
            choice.change(on_sketch, predict_inputs, outputs, **quiet).then(
                lambda d, s, *c: look_inside(chosen(s, c), d), [digit, session, *choices], inside.every, **quiet)
        demo.load(lambda s, *c: weight_views(chosen(s, c)), [session, *choices], inside.weights, **quiet)
        clear.click(lambda: None, None, sketch, **quiet)
        grid_button.click(random_grid, [session, *choices], grid, api_visibility="private")
        inside.button.click(lambda s, *c: evaluation(chosen(s, c), "Chosen"), [session, *choices], inside.result,
                            api_visibility="private")
        api_button.click(classify, api_file, api_json, api_name="classify", concurrency_limit=CLASSIFY_CONCURRENCY)
        demo.load(None, None, None, js=SELECT_BRUSH_JS)
        demo.unload(stop_on_tab_close)
    return demo


LAUNCH_OPTIONS = dict(css=CSS, max_file_size=MAX_UPLOAD, mcp_server=False, enable_monitoring=False,
                      show_error=False)
# Requests waiting beyond this are refused at once with Gradio's "queue is full" message.
QUEUE_OPTIONS = dict(max_size=int(os.environ.get("MNIST_QUEUE_SIZE", "64")))
