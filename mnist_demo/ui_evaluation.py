"""How models do on MNIST validation, as the tabs show it: confusion matrices and the most
confident mistakes, as HTML, for the Train, Look inside and Your digits tabs."""

from __future__ import annotations

import numpy as np

from .collection import to_bytes
from .data import MnistSource
from .evaluation import Evaluation, evaluate_model
from .models import MODEL_TITLES
from .page_assets import thumbnail


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


def mistakes_html(evaluations: dict[str, Evaluation], x_valid: np.ndarray) -> str:
    """Each model's most confident mistakes, a row per model, each captioned short enough for its
    thumbnail: "CNN 7→2 99%" (true → said, sure). HTML, as the app shows every other set of digits:
    a gr.Gallery made the page load Gradio's video player and hls.js with it, a third of every
    visitor's scripts (500 kB), for this one view."""
    rows = []
    for name, ev in evaluations.items():
        if ev.mistakes:
            rows.append('<div class="mistakes-row">' + "".join(
                f'<figure><img src="{thumbnail(to_bytes(x_valid[i]).tobytes())}" alt="a {t} read as {p}, {c:.0%} '
                f'sure"><figcaption>{MODEL_TITLES[name]} {t}→{p} {c:.0%}</figcaption></figure>'
                for i, t, p, c in ev.mistakes) + "</div>")
    if not rows:
        return ""
    return f'<div class="mistakes"><h4>Most confident mistakes (true→said, how sure)</h4>{"".join(rows)}</div>'


def evaluate_all(models: dict, mnist: MnistSource) -> tuple[dict[str, Evaluation], np.ndarray]:
    data = mnist.for_app()
    return {name: evaluate_model(model, data) for name, model in models.items()}, data.x_valid


def confusion_section(evaluations: dict[str, Evaluation], title: str) -> str:
    return "".join(confusion_html(f"{title} {MODEL_TITLES[n]}", ev) for n, ev in evaluations.items())


def evaluation_outputs(models: dict, title: str, mnist: MnistSource):
    evs, x_valid = evaluate_all(models, mnist)
    return confusion_section(evs, title), mistakes_html(evs, x_valid)
