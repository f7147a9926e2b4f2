"""The "Your digits" tab: the digits a visitor kept in the Draw tab, grouped by digit; delete one or
all; export and import them as files; test both models on them beside MNIST validation, with
confusion matrices whose cells show the digits behind them.

The collection lives in the visitor's session (``Session.digits``), in memory only. The
only files written are their exports, in the session's own download folder, removed with it.
"""

from __future__ import annotations

import base64
import secrets
import time

import gradio as gr
import numpy as np

from .collection import CAP, EMPTY, GONE, CollectionError, Digits, held_out, to_bytes
from .data import MnistSource
from .digit_files import DigitFileError, read_digit_files, write_export
from .evaluation import confusion_matrix, per_class_accuracy, predict_labels
from .handlers import QUIET, bind
from .inputs import MINE, SHIPPED, digits_from_page, event_fields, model_from_page
from .limits import refuse_addresses
from .memory import gives_back_memory
from .models import MODEL_NAMES, MODEL_TITLES
from .page_assets import page_file, thumbnail
from .ui_draw import DrawTab, chosen_models, summary_markdown, use_restored, weight_sources
from .ui_evaluation import confusion_table
from .weights import WeightsError

MAX_CELL_DIGITS = 60  # digits shown for one confusion cell (MNIST's diagonal holds thousands)
SETS = {"yours": "your digits", "mnist": "MNIST validation"}


# ---------------------------------------------------------------------------- rendering


def kept_figure(pixels: np.ndarray, label: int, digit_id: int, held: bool) -> str:
    """One kept digit: its picture and a delete button; held-out ones are marked."""
    note = ' title="Held out of fine-tuning: it measures the fine-tune"' if held else ""
    return (f'<figure class="kept{" held" if held else ""}" data-id="{digit_id}"{note}>'
            f'<img src="{thumbnail(pixels.tobytes())}" alt="a kept {label}">'
            f'<button type="button" class="remove" data-remove="{digit_id}" aria-label="Delete this {label}" '
            f'title="Delete">×</button></figure>')


def gallery_html(digits: Digits) -> str:
    """The collection grouped by digit, with counts; each thumbnail has a delete button."""
    if not len(digits):
        return ('<div class="my-digits empty">No digits kept yet. In the Draw tab, draw a digit and tap '
                '<b>Keep as</b> its true digit (or <b>it’s a …</b> on a model that got it wrong). '
                'Or import a collection below.</div>')
    held = held_out(digits.labels)
    groups = []
    for d in range(10):
        where = np.flatnonzero(digits.labels == d)
        if not len(where):
            continue
        items = "".join(kept_figure(digits.pixels[i], d, digits.ids[i], held[i]) for i in where)
        groups.append(f'<section class="kept-group" data-digit="{d}"><h4>{d} <small>×{len(where)}</small></h4>'
                      f'<div class="kept-row">{items}</div></section>')
    return (f'<div class="my-digits" data-count="{len(digits)}"><div class="my-digits-head">'
            f'<b>{len(digits):,}</b> of at most {CAP:,} digits · <span class="held-key">dashed</span> = held out '
            f'of fine-tuning (one in four of each digit)'
            f'<span class="clear-all"><button type="button" class="ask-clear">Delete all…</button>'
            f'<span class="confirm">Delete all {len(digits):,}? <button type="button" class="do-clear">'
            f'Delete all</button> <button type="button" class="cancel-clear">Cancel</button></span></span></div>'
            f'<div class="kept-groups">{"".join(groups)}</div></div>')


def digit_test_html(results: dict, sources: dict[str, str]) -> str:
    """Overall and per-digit accuracy of each model on both sets, and their confusion matrices
    (clickable: a cell shows its digits). Everything is read off one confusion matrix per pair."""
    pairs = [(n, s) for n in MODEL_NAMES for s in SETS]
    confusions = {(n, s): confusion_matrix(results[s]["y"], results[s][n]) for n, s in pairs}
    counts = confusions[MODEL_NAMES[0], "yours"].sum(1)
    header = "".join(f"<th>{MODEL_TITLES[n]} {SETS[s]}</th>" for n, s in pairs)
    rows = []
    for d in range(10):
        cells = "".join(f"<td>{per_class_accuracy(c)[d]:.0%}</td>" if c[d].sum() else "<td>–</td>"
                        for c in confusions.values())
        rows.append(f"<tr><th>{d}</th><td>{counts[d]}</td>{cells}</tr>")
    overall = "".join(f"<td><b>{np.trace(c) / c.sum():.1%}</b></td>" for c in confusions.values())
    rows.append(f"<tr><th>all</th><td>{counts.sum()}</td>{overall}</tr>")
    table = (f'<div class="digit-test-wrap"><table class="per-class digit-test-table"><tr><th>digit</th>'
             f'<th>yours</th>{header}</tr>{"".join(rows)}</table></div>')
    parts = []
    for (n, s), c in confusions.items():
        whose = "your trained weights" if sources[n] != SHIPPED else "shipped weights"
        parts.append(f'<div class="confusion"><h4>{MODEL_TITLES[n]} ({whose}) on {SETS[s]}: '
                     f'{np.trace(c) / c.sum():.1%} of {c.sum():,}</h4>{confusion_table(c, f"{s} {n}")}</div>')
    return (f'{table}<p class="digit-test-help">Confusion matrices: rows are the true digit, columns the '
            f'models’ answers. Click a number to see those digits.</p><div class="digit-test">{"".join(parts)}</div>')


# ---------------------------------------------------------------------------- handlers


def views(session):
    """Everything that shows the collection: the Draw tab's line and this tab's gallery."""
    digits = session.digits.snapshot()
    return summary_markdown(digits), gallery_html(digits)


def keep(session, evt: gr.EventData):
    """The page's "Keep as N" / "it's a N": the digit as the page stored it in the browser (its id,
    its true label, its 784 bytes). The same id again (a double tap, a retry) is kept once."""
    try:
        pixels, labels, ids = digits_from_page([event_fields(evt)])
        session.digits.add_many(pixels, labels, ids)
    except CollectionError as e:
        gr.Warning(str(e))
    return summary_markdown(session.digits.snapshot())  # the gallery is drawn when its tab is shown


def restore(session, evt: gr.EventData):
    """The page opened, or found its server restarted: what it kept in this browser (digits,
    trained weights) comes back to this session, which holds it in memory for as long as the page
    is open. Each part is all or nothing, and a bad one gets a sentence."""
    data = event_fields(evt)
    gone = data.get("gone") if isinstance(data.get("gone"), list) else []
    for digit_id in gone[:GONE]:  # deleted in the browser: their own request may have been lost
        if isinstance(digit_id, int) and not isinstance(digit_id, bool):
            session.digits.remove(digit_id)
    try:
        session.digits.add_many(*digits_from_page(data.get("digits", [])))
    except CollectionError as e:
        gr.Warning(f"Your digits kept in this browser could not be read back: {e}")
    weights = data.get("weights") or {}
    for name in MODEL_NAMES:
        if name in weights:
            try:
                model, meta = model_from_page(name, weights[name])
                session.adopt({name: model}, {name: recorded_accuracy(meta)})
            except WeightsError as e:
                gr.Warning(f"Your trained weights kept in this browser could not be read back: {e}")
    # After a server restart the page restores into an empty session while Your digits may be in
    # view. Otherwise the gallery is drawn when its tab is shown, not held as this session's output.
    digits = session.digits.snapshot()
    return summary_markdown(digits), gallery_html(digits) if data.get("gallery") is True else gr.skip()


def remove(session, evt: gr.EventData):
    data = event_fields(evt)
    digit_id = data.get("id")
    if isinstance(digit_id, int) and not isinstance(digit_id, bool):
        session.digits.remove(digit_id)
    return views(session)


def clear_all(session):
    session.digits.clear()
    return views(session)


@gives_back_memory
def import_files(files, session):
    """Merge the files' digits into the collection, each digit once: all the new ones, or none and
    a sentence why. The new ones also go to the page, which keeps them in the browser; the import
    box is emptied, so the next import starts from nothing."""
    added = EMPTY
    try:
        pixels, labels = read_digit_files(files or [])  # gr.File gives paths
        ids, already, copies = session.digits.add_unseen(pixels, labels)
        now = session.digits.snapshot()
        added = now.part(np.isin(now.ids, ids))
        status = f"Imported {len(ids):,} digits; you have {len(session.digits):,}."
        if already:  # said in so many words: an import that adds fewer than it holds must say why
            status += f" {already:,} already kept {'was' if already == 1 else 'were'} skipped."
        if copies:
            status += (f" The files held {copies:,} copies of digits in them (an export's IDX pair and zip hold "
                       "the same ones).")
    except (DigitFileError, CollectionError) as e:
        status = f"⚠️ Nothing imported. {e}"
    summary, html = views(session)
    return summary, gr.HTML(html, added=page_entries(added)), status, None


def recorded_accuracy(meta: dict) -> float:
    """The validation accuracy a weights file records (what a new run must beat); 0 if none."""
    try:
        return min(max(float(meta.get("valid_acc", 0.0)), 0.0), 1.0)
    except ValueError:
        return 0.0


def page_entries(digits: Digits) -> dict:
    """Digits as the page stores them (page/store.js), for it to keep in the browser."""
    return {"digits": [{"id": int(i), "label": int(label), "pixels": base64.b64encode(row.tobytes()).decode()}
                       for i, label, row in zip(digits.ids, digits.labels, digits.pixels, strict=True)],
            "batch": secrets.token_hex(4)}  # a new value each time, so the page sees every import


def export_files(session):
    digits = session.digits.snapshot()
    if not len(digits):
        raise gr.Error("Nothing to export yet: keep some digits in the Draw tab first.")
    folder = session.new_downloads("digits")
    # An update, not gr.File(...): a component made here would copy the files at once into Gradio's
    # cache, and the handler's answer would no longer name the session's own files.
    return gr.update(value=write_export(digits, folder, time.strftime("my-digits-%Y%m%d-%H%M%S")), visible=True)


def run_digit_test(session, chosen: dict, sources: dict[str, str], mnist: MnistSource):
    """Both chosen models on the collection and on MNIST validation; kept in the session so that a
    confusion cell can show its digits."""
    digits = session.digits.snapshot()
    if not len(digits):
        raise gr.Error("Keep some digits in the Draw tab first: then test the models on them here.")
    data = mnist.for_app()
    results = {"yours": {"y": digits.y, "digits": digits.x},
               "mnist": {"y": data.y_valid, "digits": data.x_valid}}
    for s in SETS:
        for n in MODEL_NAMES:
            results[s][n] = predict_labels(chosen[n], results[s]["digits"])
    session.tested = results
    return digit_test_html(results, sources), ""


def cell_digits(session, evt: gr.EventData):
    """The digits behind one confusion cell of the last test."""
    data = event_fields(evt)
    try:
        set_key, name, true, said = str(data.get("cell", "")).split()
        true, said = int(true), int(said)
        if set_key not in SETS or name not in MODEL_NAMES:  # only the cells digit_test_html made
            raise KeyError(set_key, name)
        result = session.tested[set_key]
        chosen = np.flatnonzero((result["y"] == true) & (result[name] == said))
    except (ValueError, KeyError, TypeError, AttributeError):
        raise gr.Error("Run the test again: that result is gone.") from None
    shown = chosen[:MAX_CELL_DIGITS]
    pictures = "".join(f'<img src="{thumbnail(to_bytes(result["digits"][i]).tobytes())}" '
                       f'alt="a {true} read as {said}">' for i in shown)
    more = f" (the first {len(shown)})" if len(chosen) > len(shown) else ""
    return (f'<div class="cell-digits"><p><b>{MODEL_TITLES[name]} on {SETS[set_key]}:</b> {len(chosen):,} '
            f'digit{"s" * (len(chosen) != 1)} that {"are" if len(chosen) != 1 else "is"} {true} and it said '
            f'{said}{more}.</p><div class="kept-row">{pictures}</div></div>')


def digit_test_for(shipped: dict, mnist: MnistSource, session, weights: str):
    """The test, with the shipped weights or the visitor's own (each model where they have them)."""
    choices = [weights] * len(MODEL_NAMES)
    return run_digit_test(session, chosen_models(shipped, session, choices), weight_sources(session, choices), mnist)


# ---------------------------------------------------------------------------- layout and wiring


def digits_tab(tab: gr.Tab, draw: DrawTab, session: gr.State, shipped: dict, mnist: MnistSource) -> None:
    gr.Markdown("The digits you keep in the Draw tab. They are kept in this browser (a reload or a restarted "
                "server loses nothing) and no other visitor sees them; export them to take them elsewhere. In "
                "the Train tab, *Include my digits* fine-tunes the models on them.")
    gallery = gr.HTML(gallery_html(EMPTY), elem_id="my-digits", js_on_load=page_file("digits.js"),
                      apply_default_css=False, added=None)
    with gr.Row():
        with gr.Column():
            export_button = gr.Button("Export (MNIST IDX files and a zip of PNGs)", elem_id="export-digits")
            # All three files in view (no inner scroll): the IDX pair any MNIST tool and the
            # command line read, and the same digits as a zip of PNGs. Shown once there are files
            # (an empty box is a phone's screen of nothing). Labels on one line: a longer one wraps
            # over the box on a phone.
            exported = gr.File(label="Exported: MNIST's IDX pair and a zip of PNGs", file_count="multiple",
                               interactive=False, visible=False, elem_id="exported-digits")
        with gr.Column():
            importer = gr.File(label="Import digits (IDX pair or zip)",
                               file_count="multiple",
                               elem_id="import-digits", height=150)
            refuse_addresses(importer)  # a URL in a file's place: a sentence, nothing fetched (limits.py)
            import_status = gr.Markdown(elem_id="import-status")
    gr.Markdown("### Test the models on your digits")
    with gr.Row():
        weights = gr.Radio([("shipped weights", SHIPPED), ("my trained weights", MINE)], value=SHIPPED,
                           label="Test with", elem_id="test-weights", scale=1,
                           info="Your trained weights where you have them (Train tab), else the shipped.")
        test_button = gr.Button("Test both models on your digits and on MNIST validation",
                                variant="primary", elem_id="test-digits", scale=2, size="lg")
    test = gr.HTML(elem_id="digit-test", js_on_load=page_file("confusion.js"), apply_default_css=False)
    # The digits behind a clicked cell show below the matrices: bring them into view.
    cell = gr.HTML(elem_id="cell-digits", apply_default_css=False,
                   js_on_load='watch("value", () => { if (props.value) element.scrollIntoView({block: "nearest"}); });')

    quiet = QUIET
    both = [draw.summary, gallery]
    # A tap sends back one line, not the whole gallery (1.1 MB at the cap): a phone in a class
    # keeps digit after digit, and the gallery is drawn when its tab is shown. Every tap counts, even
    # while the last one's answer is on its way (Gradio's default drops it). What goes to a class
    # goes through the pad's outbox instead (classes/student.send_to_class).
    draw.pad.keep(keep, session, draw.summary, trigger_mode="multiple", **quiet)
    draw.pad.restore(restore, session, both, trigger_mode="always_last", **quiet).then(
        bind(use_restored, draw.shipped_page), session, [draw.pad, *draw.choices], **quiet)
    tab.select(lambda s: gallery_html(s.digits.snapshot()), session, gallery, **quiet)
    gallery.remove(remove, session, both, trigger_mode="multiple", **quiet)
    gallery.clear_all(clear_all, session, both, **quiet)
    importer.upload(import_files, [importer, session], [*both, import_status, importer], api_visibility="private")
    export_button.click(export_files, session, exported, api_visibility="private")
    test_button.click(bind(digit_test_for, shipped, mnist), [session, weights], [test, cell],
                      api_visibility="private")
    test.cell(cell_digits, session, cell, trigger_mode="always_last", **quiet)
