"""What a class looks like on screen, as HTML: the projector wall, the teacher's drawings with
their remove buttons, the join card (code, link, QR) and the cell behind a confusion click; and
the class model in words (its figures, and why there is none yet), which both training paths say.

Pure functions of a class's drawings: no Gradio, no storage. The wall is read from the back of a
classroom, so its type is large and every figure is also in its text (CSS: page/app.css, under
"The class wall"). Everything here is safe to project: the join code and link are meant to be
seen, and no teacher link or student id is ever written into it.
"""

from __future__ import annotations

import functools
import html
import math
from collections import Counter

import numpy as np
import segno

from ..evaluation import confusion_matrix, per_class_accuracy
from ..models import MODEL_NAMES, MODEL_TITLES
from ..page_assets import thumbnail
from ..ui_evaluation import confusion_table

NEWEST_ON_WALL = 40  # drawings shown as they arrive: a few rows on a projector, a lesson's first round
TEACHER_SHOWN = 300  # the newest drawings the teacher can remove one by one
CELL_SHOWN = 60  # drawings shown for one confusion cell
MIN_BAR = 2.0  # % of the tallest bar that any digit with a drawing gets first, to be seen


def answers_of(rows: np.ndarray) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """(the students' labels, each model's answers) from the class's (label, linear, cnn) rows."""
    rows = np.asarray(rows, dtype=np.int64).reshape(-1, 1 + len(MODEL_NAMES))
    return rows[:, 0], {n: rows[:, 1 + k] for k, n in enumerate(MODEL_NAMES)}


def mark(right: bool) -> str:
    return "✓" if right else "✗"


def drawing_figure(d, *, removable: bool = False, held: bool = False, theirs: int = 0) -> str:
    """One drawing with the student's label and each model's answer. The data attributes are the
    page contract the tests (and any script on the wall) read. For the teacher (``removable``):
    its remove buttons, "all theirs" with how many drawings that student has (``theirs``, for the
    page's "Remove all N of theirs?"), and whether the paused wall holds it back (``held``)."""
    said = " · ".join(f"{MODEL_TITLES[n]} {getattr(d, n)} {mark(getattr(d, n) == d.label)}" for n in MODEL_NAMES)
    wrong = any(getattr(d, n) != d.label for n in MODEL_NAMES)
    attrs = f'data-drawing-id="{d.drawing_id}" data-label="{d.label}"' + "".join(
        f' data-{n}="{getattr(d, n)}"' for n in MODEL_NAMES) + (' data-held="1"' if held else "")
    buttons = ""
    if removable:
        buttons = (f'<button type="button" data-remove="{d.drawing_id}" aria-label="Remove this {d.label}" '
                   f'title="Remove this drawing">×</button>'
                   f'<button type="button" class="remove-student" data-remove-student="{d.drawing_id}" '
                   f'data-theirs="{max(theirs, 1)}" title="Remove every drawing of the student who drew this">'
                   f'all theirs</button>')
    note = '<span class="held-mark">held: not on the wall</span>' if held else ""
    return (f'<figure class="class-drawing{" wrong" if wrong else ""}{" held" if held else ""}" {attrs}>'
            f'<img src="{thumbnail(d.pixels)}" alt="a {d.label}; {said}">'
            f'<figcaption><b>{d.label}</b> <span>{said}</span>{note}</figcaption>{buttons}</figure>')


def count_badge(n: int) -> str:
    return f'<span id="class-count" data-count="{n}"><b>{n:,}</b> drawing{"s" * (n != 1)}</span>'


def bar_heights(counts) -> list[float]:
    """Each bar's height in % of the tallest: 0 for no drawing; otherwise MIN_BAR % (so a single
    drawing shows) plus the rest in proportion to its count. Never clamped: a 3 and a 4 always
    differ, at any scale, and the tallest is 100 %."""
    top = max(1, max(counts, default=0))
    return [0.0 if c <= 0 else MIN_BAR + (100.0 - MIN_BAR) * c / top for c in counts]


def counts_html(labels: np.ndarray) -> str:
    """How many drawings of each digit: a bar per digit, its number written on it. Each bar's
    fill lives in a track of its own, so the number and digit above and below it never squeeze
    the bars (in a flex column they did: a 3 and a 4 drew alike)."""
    counts = [int(c) for c in (np.bincount(labels, minlength=10) if len(labels) else np.zeros(10, np.int64))]
    bars = "".join(f'<div class="wall-bar" data-digit="{d}"><span class="n">{c}</span>'
                   f'<span class="track"><span class="fill" style="height:{h:.1f}%"></span></span>'
                   f'<span class="d">{d}</span></div>'
                   for d, (c, h) in enumerate(zip(counts, bar_heights(counts), strict=True)))
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


def fraction(value) -> float | None:
    """A stored figure (text, as the training wrote it) as a fraction in [0, 1], or None for
    anything else: not a number, NaN, infinite, out of range. A bad note is left out, never shown."""
    try:
        x = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return x if math.isfinite(x) and 0.0 <= x <= 1.0 else None


def model_figures(notes) -> tuple[float, float, float, float] | None:
    """A class model's four figures from its notes (held-out before and after, MNIST before and
    after), each a fraction in [0, 1]; None if the notes are not a table of four such figures."""
    if not isinstance(notes, dict):
        return None
    figures = tuple(fraction(notes.get(k)) for k in ("held_before", "held_after", "valid_before", "valid_after"))
    return None if None in figures else figures


def class_model_note(meta: dict[str, dict[str, str]] | None) -> str:
    """The class's own model, once published: before and after on our held-out drawings and on
    MNIST validation, as its training recorded them. A model whose notes are not four fractions
    in [0, 1] is left out."""
    if not isinstance(meta, dict) or not meta:
        return ""
    parts = []
    for n in MODEL_NAMES:
        figures = model_figures(meta.get(n))
        if figures is None:
            continue
        held_before, held_after, valid_before, valid_after = figures
        parts.append(f"<li>{MODEL_TITLES[n]}: {held_before:.1%} → <b>{held_after:.1%}</b> on our held-out "
                     f"drawings; MNIST {valid_before:.1%} → {valid_after:.1%}</li>")
    if not parts:
        return ""
    return f'<section class="wall-class-model"><h3>Our class’s model</h3><ul>{"".join(parts)}</ul></section>'


def waiting_note(held: int) -> str:
    """While the teacher has paused the wall: how many drawings wait, discreetly (never which)."""
    if held <= 0:
        return '<p class="wall-waiting" id="class-waiting" data-waiting="0">The wall is paused.</p>'
    return (f'<p class="wall-waiting" id="class-waiting" data-waiting="{held}">{held:,} drawing'
            f'{"s" * (held != 1)} waiting for the teacher</p>')


def wall_html(code: str, rows: np.ndarray, newest: list, valid: dict[str, np.ndarray] | None, join_url: str,
              model_meta: dict | None = None, held: int | None = None, locked: bool = False) -> str:
    """The projector wall: the join card, counts, scores, the newest drawings and both confusion
    matrices (a click on a cell shows its drawings below). ``rows``: every drawing's (label,
    linear, cnn), oldest first (the figures need no pixels); ``newest``: the drawings to show,
    newest first; ``held``: None while the wall shows everything, else (paused) how many
    drawings wait for the teacher (neither ``rows`` nor ``newest`` has them).

    Laid out for a projector: the side column (the code, the count, a QR code as tall as the
    screen allows, the link, the bars) beside the main one (the newest drawings first, then the
    confusion matrices, and below them the scores and the class's own model side by side)."""
    labels, answers = answers_of(rows)
    pictures = "".join(drawing_figure(d) for d in newest[:NEWEST_ON_WALL])
    if not newest:
        pictures = '<p class="wall-empty">No drawings yet. Draw a digit and tap <b>Keep as</b> its true digit.</p>'
    confusions = "".join(
        f'<div class="confusion"><h4>{MODEL_TITLES[n]}: rows are your digits, columns its answers</h4>'
        f'{confusion_table(confusion_matrix(labels, answers[n]), n)}</div>' for n in MODEL_NAMES)
    paused = "" if held is None else waiting_note(held)
    return (f'<div id="class-wall" class="class-wall{" paused" if held is not None else ""}" '
            f'data-code="{html.escape(code)}">'
            f'<aside class="wall-side"><header><h2>Class <span class="code">{spaced(code)}</span></h2>'
            f'{count_badge(len(labels))}{paused}</header>'
            f'{closed_card() if locked else join_card(code, join_url, wall=True)}{counts_html(labels)}</aside>'
            f'<div class="wall-main"><section class="wall-newest" aria-label="The newest drawings"><h3>Newest</h3>'
            f'<div class="class-drawings">{pictures}</div></section>'
            f'<div class="wall-figures">{scores_html(labels, answers, valid)}{class_model_note(model_meta)}'
            f'<section class="wall-confusion"><h3>Who reads what <small>(click a number to see those drawings)'
            f'</small></h3><div class="confusions">{confusions}</div></section></div></div></div>')


def closed_card() -> str:
    """In place of the join card while the teacher has locked joining: a QR code would only lead
    a latecomer to "not taking new students"."""
    return ('<div class="join-card wall closed" id="class-closed"><p><b>Joining is closed.</b> '
            'Ask your teacher if you are not in the class yet.</p></div>')


def spaced(code: str) -> str:
    """ABC123 as "ABC 123": easier to read aloud and to copy."""
    return f"{code[:3]} {code[3:]}" if len(code) > 4 else code


QR_QUIET = 4  # modules of white around the code: the standard's quiet zone, which readers need


@functools.lru_cache(maxsize=64)  # the wall redraws every second a class keeps: its QR code does not change
def qr_svg(url: str) -> str:
    """The join link as a QR code, an inline SVG made here (segno): dark on white in both themes,
    since phone cameras read that best, with its whole quiet zone. One unit per module and no
    width or height of its own: the CSS scales it (its viewBox), as large as the screen allows."""
    return segno.make(url, error="m").svg_inline(scale=1, dark="#000", light="#fff", border=QR_QUIET,
                                                 omitsize=True)


def join_card(code: str, join_url: str, *, wall: bool = False) -> str:
    """The join link, the code and the link's QR code. On the ``wall`` the text comes after the
    QR code, in type a room can read (page/app.css)."""
    # A long address wraps where a reader expects, after the host and before "?class=", not mid-port.
    shown = html.escape(join_url).replace("://", "://<wbr>").replace("?", "<wbr>?")
    text = (f'<div class="join-text">Join at <a id="class-join-link" href="{html.escape(join_url)}" target="_blank" '
            f'rel="noopener">{shown}</a><br>or type the code <b class="code">{spaced(code)}</b> in '
            f'the <i>Class</i> tab</div>')
    qr = f'<div class="qr" role="img" aria-label="QR code of the join link">{qr_svg(join_url)}</div>'
    return f'<div class="join-card wall-join">{qr}{text}</div>' if wall else f'<div class="join-card">{text}{qr}</div>'


def teacher_drawings_html(drawings: list, held_after: int | None = None) -> str:
    """The class's newest drawings for the teacher, each with Remove and "all theirs". Oldest
    first: a new drawing arrives at the end, so nothing moves under a finger about to tap ×.
    ``held_after``: while the wall is paused, the ``order`` after which drawings are held (marked
    so here; the wall does not show them)."""
    held = [d for d in drawings if held_after is not None and d.order > held_after]
    paused = "" if held_after is None else (
        f'<p class="wall-paused-note" id="class-paused-note"><b>The wall is paused:</b> {len(held):,} drawing'
        f'{"s" * (len(held) != 1)} held back from it (marked <i>held</i>). <i>Show the held drawings</i> lets '
        f'them through; <i>Resume the wall</i> shows every new one again.</p>')
    if not drawings:
        return f'<div class="teacher-drawings empty">{paused}No drawings yet.</div>'
    shown = drawings[-TEACHER_SHOWN:]
    more = f" (the newest {len(shown)})" if len(drawings) > len(shown) else ""
    theirs = Counter(d.student for d in drawings)
    figures = "".join(drawing_figure(d, removable=True, theirs=theirs[d.student],
                                     held=held_after is not None and d.order > held_after) for d in shown)
    return (f'<div class="teacher-drawings">{paused}<p>{count_badge(len(drawings))}{more}. × removes one drawing; '
            f'<i>all theirs</i> removes every drawing of the student who drew it (it asks first).</p>'
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


# ---------------------------------------------------------------------------- the class's model in words


FEW_HELD = 20  # held-out drawings below which a class's before/after figures say little (1 in 20 is 5 points)


def too_few_to_train(own, held) -> str | None:
    """Why the class's drawings cannot train its model yet (``own``, ``held``: ``Digits.split``'s
    two parts), or None. Said by the server's class training (training.py) and by the teacher's
    page's route (page_routes.py) alike."""
    if not len(own):
        return "The class has no drawings to train on yet: ask the students to keep a few first."
    if not len(held):
        return ("Keep a few more drawings first: a quarter of each digit is held out to measure the class's "
                "model, and there is none yet.")
    return None


def class_model_summary(meta: dict) -> str:
    """Each model's figures, as given to the class: on the class's held-out drawings and on MNIST
    validation, before (the shipped weights) and after (the weights kept), to one decimal place.
    Where the curve went higher than the weights kept, it says so: the fine-tune keeps the best
    weights that stay within a point of the start on MNIST, not the curve's last or best point."""
    parts = []
    for n, m in meta.items():
        # The notes may come from a teacher's page (page_routes.py checks them); a figure that is
        # not a fraction leaves its model out of the sentence rather than failing it.
        figures = model_figures(m) if n in MODEL_TITLES else None
        if figures is None:
            continue
        held_before, held_after, valid_before, valid_after = figures
        held = int(m["class_held_out"]) if str(m.get("class_held_out", "")).isdigit() else None
        count = "" if held is None else f" {held:,}"
        drawings = "drawing" if held == 1 else "drawings"
        text = (f"{MODEL_TITLES[n]}: {held_before:.1%} → {held_after:.1%} on the class's{count} held-out {drawings}, "
                f"MNIST {valid_before:.1%} → {valid_after:.1%}")
        if held is not None and held < FEW_HELD:
            text += " (too few held-out drawings to say much: keep more, a few of each digit, and train again)"
        best = fraction(m.get("held_best"))
        if best is not None and best >= held_after + 0.0005:
            text += (f" (its curve reached {best:.1%}, but those weights cost MNIST more than a point, so the ones "
                     "kept are these)")
        parts.append(text + ".")
    return " ".join(parts)
