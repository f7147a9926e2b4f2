"""What a class looks like on screen, as HTML: the projector wall, the teacher's drawings with
their remove buttons, the join card (code, link, QR) and the cell behind a confusion click.

Pure functions of a class's drawings: no Gradio, no storage. The wall is read from the back of a
classroom, so its type is large and every figure is also in its text (CSS: page/app.css, under
"The class wall"). Everything here is safe to project: the join code and link are meant to be
seen, and no teacher link or student id is ever written into it.
"""

from __future__ import annotations

import functools
import html

import numpy as np
import segno

from .evaluation import confusion_matrix, per_class_accuracy
from .models import MODEL_NAMES, MODEL_TITLES
from .page_assets import thumbnail
from .ui_evaluation import confusion_table

NEWEST_ON_WALL = 40  # drawings shown as they arrive: a few rows on a projector, a lesson's first round
TEACHER_SHOWN = 300  # the newest drawings the teacher can remove one by one
CELL_SHOWN = 60  # drawings shown for one confusion cell


def answers_of(rows: np.ndarray) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """(the students' labels, each model's answers) from the class's (label, linear, cnn) rows."""
    rows = np.asarray(rows, dtype=np.int64).reshape(-1, 1 + len(MODEL_NAMES))
    return rows[:, 0], {n: rows[:, 1 + k] for k, n in enumerate(MODEL_NAMES)}


def mark(right: bool) -> str:
    return "✓" if right else "✗"


def drawing_figure(d, *, removable: bool = False) -> str:
    """One drawing with the student's label and each model's answer. The data attributes are the
    page contract the tests (and any script on the wall) read."""
    said = " · ".join(f"{MODEL_TITLES[n]} {getattr(d, n)} {mark(getattr(d, n) == d.label)}" for n in MODEL_NAMES)
    wrong = any(getattr(d, n) != d.label for n in MODEL_NAMES)
    attrs = f'data-drawing-id="{d.drawing_id}" data-label="{d.label}"' + "".join(
        f' data-{n}="{getattr(d, n)}"' for n in MODEL_NAMES)
    buttons = ""
    if removable:
        buttons = (f'<button type="button" data-remove="{d.drawing_id}" aria-label="Remove this {d.label}" '
                   f'title="Remove this drawing">×</button>'
                   f'<button type="button" class="remove-student" data-remove-student="{d.drawing_id}" '
                   f'title="Remove every drawing of the student who drew this">all theirs</button>')
    return (f'<figure class="class-drawing{" wrong" if wrong else ""}" {attrs}>'
            f'<img src="{thumbnail(d.pixels)}" alt="a {d.label}; {said}">'
            f'<figcaption><b>{d.label}</b> <span>{said}</span></figcaption>{buttons}</figure>')


def count_badge(n: int) -> str:
    return f'<span id="class-count" data-count="{n}"><b>{n:,}</b> drawing{"s" * (n != 1)}</span>'


def counts_html(labels: np.ndarray) -> str:
    """How many drawings of each digit: a bar per digit, its number written on it."""
    counts = np.bincount(labels, minlength=10) if len(labels) else np.zeros(10, np.int64)
    top = max(1, int(counts.max()))
    bars = "".join(f'<div class="wall-bar" data-digit="{d}"><span class="n">{c}</span>'
                   f'<span class="fill" style="height:{100 * c / top:.0f}%"></span><span class="d">{d}</span></div>'
                   for d, c in enumerate(counts))
    return f'<section class="wall-counts" aria-label="Drawings per digit"><h3>Per digit</h3><div>{bars}</div></section>'


def percent(x: float | None) -> str:
    return "–" if x is None or np.isnan(x) else f"{x:.0%}"


def scores_html(labels: np.ndarray, answers: dict[str, np.ndarray], valid: dict[str, np.ndarray] | None) -> str:
    """Each model's accuracy on our drawings beside its MNIST validation accuracy, overall and per
    digit. ``valid``: each model's validation confusion matrix ("–" for a model without one)."""
    ours = {n: confusion_matrix(labels, answers[n]) for n in MODEL_NAMES}
    head = "".join(f'<th scope="col">{MODEL_TITLES[n]}<br><small>ours · MNIST</small></th>' for n in MODEL_NAMES)

    def pair(n: str, d: int | None) -> str:
        mine, theirs = ours[n], (valid or {}).get(n)
        if d is None:
            a = np.trace(mine) / mine.sum() if mine.sum() else None
            b = np.trace(theirs) / theirs.sum() if theirs is not None else None
        else:
            a = per_class_accuracy(mine)[d] if mine[d].sum() else None
            b = per_class_accuracy(theirs)[d] if theirs is not None else None
        return f"<td><b>{percent(a)}</b> · {percent(b)}</td>"

    rows = [f'<tr class="all"><th scope="row">all</th>{"".join(pair(n, None) for n in MODEL_NAMES)}</tr>']
    rows += [f'<tr><th scope="row">{d}</th>{"".join(pair(n, d) for n in MODEL_NAMES)}</tr>' for d in range(10)]
    return (f'<section class="wall-scores"><h3>How well they read us</h3><table><tr><th></th>{head}</tr>'
            f'{"".join(rows)}</table></section>')


def class_model_note(meta: dict[str, dict[str, str]] | None) -> str:
    """The class's own model, once published: before and after on our held-out drawings and on
    MNIST validation, as its training recorded them."""
    if not meta:
        return ""
    parts = []
    for n in MODEL_NAMES:
        m = meta.get(n, {})
        try:
            held = f"{float(m['held_before']):.0%} → <b>{float(m['held_after']):.0%}</b> on our held-out drawings"
            mnist = f"MNIST {float(m['valid_before']):.1%} → {float(m['valid_after']):.1%}"
        except (KeyError, ValueError):
            continue
        parts.append(f"<li>{MODEL_TITLES[n]}: {held}; {mnist}</li>")
    if not parts:
        return ""
    return f'<section class="wall-class-model"><h3>Our class’s model</h3><ul>{"".join(parts)}</ul></section>'


def wall_html(code: str, rows: np.ndarray, newest: list, valid: dict[str, np.ndarray] | None, join_url: str,
              model_meta: dict | None = None) -> str:
    """The projector wall: the join card, counts, scores, the newest drawings and both confusion
    matrices (a click on a cell shows its drawings below). ``rows``: every drawing's (label,
    linear, cnn), oldest first (the figures need no pixels); ``newest``: the drawings to show,
    newest first."""
    labels, answers = answers_of(rows)
    pictures = "".join(drawing_figure(d) for d in newest[:NEWEST_ON_WALL])
    if not newest:
        pictures = '<p class="wall-empty">No drawings yet. Draw a digit and tap <b>Keep as</b> its true digit.</p>'
    confusions = "".join(
        f'<div class="confusion"><h4>{MODEL_TITLES[n]}: rows are your digits, columns its answers</h4>'
        f'{confusion_table(confusion_matrix(labels, answers[n]), n)}</div>' for n in MODEL_NAMES)
    return (f'<div id="class-wall" class="class-wall" data-code="{html.escape(code)}">'
            f'<header><h2>Class <span class="code">{spaced(code)}</span></h2>{count_badge(len(labels))}'
            f'{join_card(code, join_url, small=True)}</header>'
            f'<div class="wall-top">{counts_html(labels)}{scores_html(labels, answers, valid)}'
            f'{class_model_note(model_meta)}</div>'
            f'<section class="wall-newest" aria-label="The newest drawings"><h3>Newest</h3>'
            f'<div class="class-drawings">{pictures}</div></section>'
            f'<section class="wall-confusion"><h3>Who reads what <small>(click a number to see those drawings)'
            f'</small></h3><div class="confusions">{confusions}</div></section></div>')


def spaced(code: str) -> str:
    """ABC123 as "ABC 123": easier to read aloud and to copy."""
    return f"{code[:3]} {code[3:]}" if len(code) > 4 else code


@functools.lru_cache(maxsize=64)  # the wall redraws every second a class keeps: its QR code does not change
def qr_svg(url: str) -> str:
    """The join link as a QR code, an inline SVG made here (segno): dark on white in both themes,
    since phone cameras read that best, with its quiet zone."""
    return segno.make(url, error="m").svg_inline(scale=5, dark="#000", light="#fff", border=2)


def join_card(code: str, join_url: str, *, small: bool = False) -> str:
    return (f'<div class="join-card{" small" if small else ""}"><div class="join-text">Join at '
            f'<a id="class-join-link" href="{html.escape(join_url)}" target="_blank" rel="noopener">'
            f'{html.escape(join_url)}</a><br>or type the code <b class="code">{spaced(code)}</b> in the '
            f'<i>Class</i> tab</div><div class="qr" role="img" aria-label="QR code of the join link">'
            f'{qr_svg(join_url)}</div></div>')


def teacher_drawings_html(drawings: list) -> str:
    """The class's newest drawings for the teacher, each with Remove and "all theirs". Oldest
    first: a new drawing arrives at the end, so nothing moves under a finger about to tap ×."""
    if not drawings:
        return '<div class="teacher-drawings empty">No drawings yet.</div>'
    shown = drawings[-TEACHER_SHOWN:]
    more = f" (the newest {len(shown)})" if len(drawings) > len(shown) else ""
    figures = "".join(drawing_figure(d, removable=True) for d in shown)
    return (f'<div class="teacher-drawings"><p>{count_badge(len(drawings))}{more}. × removes one drawing; '
            f'<i>all theirs</i> removes every drawing of the student who drew it.</p>'
            f'<div class="class-drawings">{figures}</div></div>')


def cell_html(drawings: list, name: str, true: int, said: int) -> str:
    """The drawings behind one confusion cell of the wall."""
    chosen = [d for d in drawings if d.label == true and getattr(d, name) == said]
    shown = chosen[-CELL_SHOWN:]
    more = f" (the newest {len(shown)})" if len(chosen) > len(shown) else ""
    figures = "".join(drawing_figure(d) for d in reversed(shown))
    return (f'<div class="cell-drawings"><p><b>{MODEL_TITLES[name]}:</b> {len(chosen)} drawing'
            f'{"s" * (len(chosen) != 1)} of {true} read as {said}{more}.</p>'
            f'<div class="class-drawings">{figures}</div></div>')
