"""The "Look inside" tab: what each model learned, and why it answered as it did. Its pictures are
computed when the tab is shown, from the 784 numbers the page prepared from the drawing."""

from __future__ import annotations

import html

import gradio as gr
import numpy as np

from . import insight
from .data import MnistSource
from .evaluation import per_class_accuracy
from .handlers import bind
from .inputs import digit_from_page
from .models import MODEL_TITLES
from .page_assets import png_data_url
from .preprocess import ImageInputError
from .ui_draw import DrawTab, chosen_models
from .ui_evaluation import confusion_section, evaluate_all

CAPTIONS = {
    "templates": "**Linear model: its ten templates** (0–4 above, 5–9 below). Each digit's 784 weights "
                 "drawn as a 28×28 picture: red = ink here raises that digit's score, blue = lowers it. "
                 "The model's whole job is to see which template your drawing matches best.",
    "evidence": "**Why the linear model answered as it did.** Weight × pixel for its top two answers: "
                "red pixels voted for that digit, blue ones against. The score is the sum of the whole map.",
    "filters": "**CNN: its 16 first-layer filters** (3×3 each; red = positive weight, blue = negative). "
               "Each one looks for a small stroke pattern: an edge, a corner, a line in some direction.",
    "maps": "**CNN: what it sees in your drawing.** The activations after each convolution (brighter = "
            "stronger): 16 maps at 14×14, 16 at 7×7, then 10 maps at 4×4, one per digit 0–9, whose "
            "averages are the class scores.",
}
NOTHING_DRAWN = "Draw a digit in the Draw tab to see the evidence and the CNN's maps for it."


def per_class_table(evaluations: dict) -> str:
    head = "".join(f"<th>{MODEL_TITLES[n]}</th>" for n in evaluations)
    rows = []
    for d in range(10):
        cells = "".join(
            f'<td><span class="acc-bar" style="width:{a * 60:.0f}px"></span> {a:.1%}</td>'
            for a in (per_class_accuracy(ev.confusion)[d] for ev in evaluations.values()))
        rows.append(f"<tr><th>{d}</th>{cells}</tr>")
    return f'<table class="per-class"><tr><th>digit</th>{head}</tr>{"".join(rows)}</table>'


def weight_views(models: dict) -> tuple:
    """What depends on the weights alone: the linear templates and the CNN's filters."""
    return insight.linear_templates(models["linear"]), insight.cnn_filters(models["cnn"])


def drawing_views(models: dict, digit, note: str = NOTHING_DRAWN) -> tuple:
    """What depends on the drawing too: evidence maps, feature maps, and a note (Nones and ``note``
    when there is no drawing)."""
    if digit is None:
        return None, None, None, None, None, note
    maps, vmax = insight.evidence(models["linear"], digit)
    evidence = [insight.colorize(m, vmax=vmax, zoom=insight.ZOOM) for _, m in maps]
    (top, _), (second, _) = maps
    return (*evidence, *insight.cnn_feature_maps(models["cnn"], digit),
            f"Left: evidence for **{top}** (its top answer). Right: for **{second}** (the runner-up).")


def look_inside(models: dict, digit, note: str = NOTHING_DRAWN) -> tuple:
    """Every picture, in the order of the tab's outputs: the weights' views always, the drawing's
    when there is one."""
    (templates, filters), (top, second, *maps, note) = weight_views(models), drawing_views(models, digit, note)
    return templates, top, second, filters, *maps, note


def inside_arrays(shipped: dict, value, session, *choices) -> tuple:
    """The tab's pictures as arrays (and its note), for the chosen weights and the page's current drawing."""
    models = chosen_models(shipped, session, choices)
    try:
        return look_inside(models, digit_from_page(value))
    except ImageInputError as e:  # a damaged drawing still leaves the weights' views to look at
        return look_inside(models, None, str(e))


def evaluate_chosen(shipped: dict, mnist: MnistSource, session, *choices) -> str:
    """Per-class accuracy and confusion matrices on validation for the chosen weights."""
    evs, _ = evaluate_all(chosen_models(shipped, session, choices), mnist)
    return per_class_table(evs) + confusion_section(evs, "Chosen")


# The tab's pictures in the order look_inside returns them: elem_id -> (label, its height where there is room).
PICTURES = {"templates": ("Linear templates", 260), "evidence-top": ("Evidence for the top answer", 240),
            "evidence-second": ("Evidence for the runner-up", 240), "filters": ("conv1 filters", 150),
            "maps-0": ("after conv1: 16 maps of 14×14", 260), "maps-1": ("after conv2: 16 maps of 7×7", 260),
            "maps-2": ("after conv3: 10 maps of 4×4, one per digit 0–9", 120)}


def picture_html(picture: np.ndarray | None, label: str, max_height: int) -> str:
    """One picture as an <img> named by its label (its alt text and its caption), ``max_height``
    tall unless the column is too narrow for that; or nothing. A gr.Image wrapped each in a
    <button> with no name (axe's critical button-name, on every one) and loaded its own scripts."""
    if picture is None:
        return ""
    label, width = html.escape(label), round(max_height * picture.shape[1] / picture.shape[0])
    return (f'<figure class="inside-picture"><figcaption>{label}</figcaption><img alt="{label}" '
            f'src="{png_data_url(picture)}" style="width: min(100%, {width}px)"></figure>')


def show_inside(shipped: dict, value, session, *choices) -> list:
    """The tab was selected: its pictures as HTML, and its note."""
    *pictures, note = inside_arrays(shipped, value, session, *choices)
    return [picture_html(p, *PICTURES[name]) for p, name in zip(pictures, PICTURES, strict=True)] + [note]


def inside_tab(tab: gr.Tab, draw: DrawTab, session: gr.State, shipped: dict, mnist: MnistSource) -> None:
    pictures = {name: gr.HTML(elem_id=name, render=False) for name in PICTURES}  # each placed below, in its row
    gr.Markdown(CAPTIONS["templates"])
    pictures["templates"].render()
    gr.Markdown(CAPTIONS["evidence"])
    evidence_note = gr.Markdown(elem_id="evidence-note")
    with gr.Row():
        pictures["evidence-top"].render()
        pictures["evidence-second"].render()
    gr.Markdown(CAPTIONS["filters"])
    pictures["filters"].render()
    gr.Markdown(CAPTIONS["maps"])
    for name in ("maps-0", "maps-1", "maps-2"):
        pictures[name].render()
    gr.Markdown("**Evaluation at a glance** for the weights chosen in the Draw tab: per-class accuracy on the "
                "20,000 validation digits and the confusion matrices (rows: true digit, columns: answer). "
                "The tutorial's 3×3 grid is in the Draw tab.")
    button = gr.Button("Evaluate on the validation split", elem_id="evaluate")
    result = gr.HTML(elem_id="evaluation")

    views = [*pictures.values(), evidence_note]
    tab.select(bind(show_inside, shipped), [draw.pad, session, *draw.choices], views,
               api_visibility="private", show_progress="hidden")
    button.click(bind(evaluate_chosen, shipped, mnist), [session, *draw.choices], result,
                 api_visibility="private")
