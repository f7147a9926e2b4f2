"""The "Look inside" tab: what each model learned, and why it answered as it did."""

from __future__ import annotations

from typing import NamedTuple

import gradio as gr

from . import insight
from .evaluation import per_class_accuracy
from .models import MODEL_TITLES
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


def drawing_views(models: dict, digit) -> tuple:
    """What depends on the drawing too: evidence maps, feature maps, and a note (Nones if blank)."""
    if digit is None:
        return None, None, None, None, None, "Draw a digit to see the evidence."
    maps, vmax = insight.evidence(models["linear"], digit)
    evidence = [insight.colorize(m, vmax=vmax, zoom=insight.ZOOM) for _, m in maps]
    (top, _), (second, _) = maps
    return (*evidence, *insight.cnn_feature_maps(models["cnn"], digit),
            f"Left: evidence for **{top}** (its top answer). Right: for **{second}** (the runner-up).")


def look_inside(models: dict, digit) -> tuple:
    """Every picture, in the order of build_inside_tab's outputs."""
    (templates, filters), (top, second, *maps, note) = weight_views(models), drawing_views(models, digit)
    return templates, top, second, filters, *maps, note


def evaluation(models: dict, label: str) -> str:
    evs, _ = evaluate_all(models)
    return per_class_table(evs) + confusion_section(evs, label)


class InsideTab(NamedTuple):
    every: list  # look_inside's outputs
    button: gr.Button
    result: gr.HTML


def build_inside_tab() -> InsideTab:
    """Lay out the tab; returns its components grouped as the view functions fill them."""
    def picture(elem_id, label, height):
        return gr.Image(label=label, elem_id=elem_id, interactive=False, buttons=[], height=height)

    gr.Markdown(CAPTIONS["templates"])
    templates = picture("templates", "Linear templates", 260)
    gr.Markdown(CAPTIONS["evidence"])
    evidence_note = gr.Markdown(elem_id="evidence-note")
    with gr.Row():
        top, second = picture("evidence-top", "Top answer", 240), picture("evidence-second", "Runner-up", 240)
    gr.Markdown(CAPTIONS["filters"])
    filters = picture("filters", "conv1 filters", 150)
    gr.Markdown(CAPTIONS["maps"])
    maps = [picture(f"maps-{k}", label, height) for k, (label, height) in enumerate(
        [("after conv1: 16 maps of 14×14", 260), ("after conv2: 16 maps of 7×7", 260),
         ("after conv3: 10 maps of 4×4, one per digit 0–9", 120)])]
    gr.Markdown("**Evaluation at a glance** for the weights chosen in the Draw tab: per-class accuracy on the "
                "20,000 validation digits and the confusion matrices (rows: true digit, columns: answer). "
                "The tutorial's 3×3 grid is in the Draw tab.")
    button = gr.Button("Evaluate on the validation split", elem_id="evaluate")
    result = gr.HTML(elem_id="evaluation")
    return InsideTab(every=[templates, top, second, filters, *maps, evidence_note], button=button, result=result)
