"""How models do on MNIST validation, as the tabs show it: confusion matrices as HTML and the
most confident mistakes as a gallery, for the Train, Look inside and Your digits tabs."""

from __future__ import annotations

import numpy as np

from .data import MnistSource
from .evaluation import Evaluation, evaluate_model
from .insight import digit_picture
from .models import MODEL_TITLES


def confusion_table(confusion: np.ndarray, cell_key: str | None = None) -> str:
    """A confusion matrix as a table, each cell shaded by its share of the row. With ``cell_key``
    its non-empty cells are buttons (``data-cell="<cell_key> <true> <said>"``) that the page
    turns into a request for the digits behind them."""
    def cell(t: int, p: int) -> str:
        n = confusion[t, p]
        if n and cell_key is not None:
            n = (f'<button type="button" data-cell="{cell_key} {t} {p}" title="true {t}, said {p}: show them">'
                 f'{n}</button>')
        return f'<td style="background: rgba(249,115,22,{confusion[t, p] / max(1, confusion[t].sum()):.2f})">' \
               f'{n or ""}</td>'

    rows = "".join(f"<tr><th>{t}</th>{''.join(cell(t, p) for p in range(10))}</tr>" for t in range(10))
    head = "".join(f"<th>{p}</th>" for p in range(10))
    corner = '<th class="corner" title="rows: the true digit; columns: the answer">true ↓<br>said →</th>'
    return f'<table class="confusion-table"><tr>{corner}{head}</tr>{rows}</table>'


def confusion_html(title: str, ev: Evaluation) -> str:
    return (f'<div class="confusion"><h4>{title}: {ev.accuracy:.2%} of 20,000 validation digits</h4>'
            f'{confusion_table(ev.confusion)}</div>')


def mistakes_gallery(name: str, ev: Evaluation, x_valid: np.ndarray):
    """Each mistake with a caption short enough for its thumbnail: "CNN 7→2 99%" (true → said, sure)."""
    return [(digit_picture(x_valid[i], 4), f"{MODEL_TITLES[name]} {t}→{p} {c:.0%}") for i, t, p, c in ev.mistakes]


def evaluate_all(models: dict, mnist: MnistSource) -> tuple[dict[str, Evaluation], np.ndarray]:
    data = mnist.for_app()
    return {name: evaluate_model(model, data) for name, model in models.items()}, data.x_valid


def confusion_section(evaluations: dict[str, Evaluation], title: str) -> str:
    return "".join(confusion_html(f"{title} {MODEL_TITLES[n]}", ev) for n, ev in evaluations.items())


def evaluation_outputs(models: dict, title: str, mnist: MnistSource):
    evs, x_valid = evaluate_all(models, mnist)
    gallery = [item for n, ev in evs.items() for item in mistakes_gallery(n, ev, x_valid)]
    return confusion_section(evs, title), gallery
