"""The Your digits tab's handlers and the Train tab's fine-tune, called as Gradio calls them."""

import base64
import copy
import os
import re

import gradio as gr
import numpy as np
import pytest
import torch

from mnist_demo import downloads
from mnist_demo.collection import held_out, to_bytes
from mnist_demo.digit_files import write_idx_pair
from mnist_demo.inference import load_shipped_models
from mnist_demo.inputs import MINE
from mnist_demo.page_assets import page_weights
from mnist_demo.presets import TrainConfig
from mnist_demo.session import Session, close_session
from mnist_demo.settings import from_process
from mnist_demo.training import new_model
from mnist_demo.ui_digits import (
    cell_digits,
    clear_all,
    export_files,
    gallery_html,
    import_files,
    keep,
    remove,
    restore,
    run_digit_test,
)
from mnist_demo.ui_train import run_training
from mnist_demo.weights import load_weights
from tests.train_requests import controls


def event(**data):
    return gr.EventData(None, data)


def kept(digit, label: int, digit_id: int) -> gr.EventData:
    """The page's keep event: the digit as page/store.js keeps it in the browser."""
    return event(id=digit_id, label=label, pixels=base64.b64encode(to_bytes(digit).tobytes()).decode())


@pytest.fixture
def session(mnist):
    """A session that kept 24 validation digits through the page's "keep" event."""
    s = Session()
    for i in range(24):
        keep(s, kept(mnist.x_valid[i], int(mnist.y_valid[i]), 1000 + i))
    return s


def test_keep_files_the_drawing_under_its_digit_and_updates_both_views(mnist, session):
    assert len(session.digits) == 24
    np.testing.assert_array_equal(session.digits.snapshot().x, mnist.x_valid[:24])
    summary = keep(session, kept(mnist.x_valid[30], 3, 7))
    assert "25 kept" in summary
    assert "25 kept" in keep(session, kept(mnist.x_valid[30], 3, 7))  # a repeated event: kept once
    gallery = gallery_html(session.digits.snapshot())
    assert gallery.count('<figure class="kept') == 25
    assert gallery.count("kept held") == held_out(session.digits.snapshot().labels).sum() > 0


@pytest.mark.parametrize("data", [dict(label=10), dict(label=True), dict(label="3"), dict(label=None),
                                  dict(label=[3]), dict(label=3.0), dict(label=10**40), dict(id=-1),
                                  dict(id=2**53), dict(id=1.5), dict(id="7"), dict(id=None), dict(pixels=None),
                                  dict(pixels="AAAA"), dict(pixels="@" * 1048), dict(pixels=[0] * 784)])
def test_a_bad_keep_changes_nothing(mnist, session, data):
    data = {**kept(mnist.x_valid[0], 3, 5)._data, **data}
    before = session.digits.snapshot()
    with pytest.warns(UserWarning):  # gr.Warning: the visitor reads why
        keep(session, event(**data))
    assert session.digits.snapshot() is before


def test_the_page_restores_its_digits_and_weights_into_a_new_session(mnist, session):
    """A reload (or a restarted server): the page sends back what it keeps in the browser."""
    digits = session.digits.snapshot()
    stored = [kept(row / 256, int(label), int(i))._data for row, label, i in zip(
        digits.pixels, digits.labels, digits.ids, strict=True)]
    trained = page_weights(new_model("linear", TrainConfig()), MINE)["safetensors"]
    fresh = Session()
    summary, gallery = restore(fresh, event(digits=stored, weights={"linear": trained}))
    assert "24 kept" in summary and "linear" in fresh.models and "cnn" not in fresh.models
    assert isinstance(gallery, type(gr.skip()))  # at a page's start the gallery is not in view: not drawn
    _, shown = restore(Session(), event(digits=stored, weights={}, gallery=True))  # a restart, with it in view
    assert shown.count("data-remove=") == 24
    lost = Session()  # a deletion whose own request was lost: the next restore brings it
    restore(lost, event(digits=stored, weights={}))
    restore(lost, event(digits=stored[1:], weights={}, gone=[stored[0]["id"], "x", 2**80]))
    assert lost.digits.snapshot().ids.tolist() == [d["id"] for d in stored[1:]]
    np.testing.assert_array_equal(fresh.digits.snapshot().pixels, digits.pixels)
    np.testing.assert_array_equal(fresh.digits.snapshot().ids, digits.ids)
    with pytest.warns(UserWarning, match="could not be read back"):  # damaged weights: a sentence
        restore(Session(), event(digits=stored, weights={"cnn": trained}))
    broken = Session()
    with pytest.warns(UserWarning, match="could not be read back"):
        restore(broken, event(digits=[*stored, {"id": 1}], weights={}))
    assert len(broken.digits) == 0  # all or nothing


def test_keep_at_the_cap_warns_and_keeps_nothing(mnist):
    s = Session()
    s.digits.cap = 2
    for i in range(2):
        keep(s, kept(mnist.x_valid[i], 1, i))
    with pytest.warns(UserWarning, match="at most 2 digits: it has 2, and 1 more would not fit"):
        keep(s, kept(mnist.x_valid[2], 1, 2))
    assert len(s.digits) == 2


def test_remove_and_clear(session):
    first = int(session.digits.snapshot().ids[0])
    remove(session, event(id=first))
    remove(session, event(id="everything"))  # not an id: nothing happens
    assert len(session.digits) == 23 and first not in session.digits.snapshot().ids
    summary, gallery = clear_all(session)
    assert len(session.digits) == 0 and "none kept yet" in summary and "No digits kept yet" in gallery


def test_export_then_import_into_a_fresh_session_gives_the_same_collection(session):
    files = export_files(session)["value"]
    assert [re.sub(r"my-digits-\d{8}-\d{6}-", "", os.path.basename(f)) for f in files] == [
        "images-idx3-ubyte.gz", "labels-idx1-ubyte.gz", "png.zip"]
    own = str(downloads.process_root() / session.downloads)
    assert all(f.startswith(own) for f in files)  # the session's own folder
    for chosen in (files[:2], files[2:]):
        fresh = Session()
        *_views, status, box = import_files(chosen, fresh)
        assert status == "Imported 24 digits; you have 24." and box is None  # the import box is emptied
        mine, theirs = session.digits.snapshot(), fresh.digits.snapshot()
        assert sorted(zip(map(bytes, mine.pixels), mine.labels, strict=True)) == sorted(
            zip(map(bytes, theirs.pixels), theirs.labels, strict=True))
    close_session(session)
    assert not any(os.path.exists(f) for f in files)  # removed with the session


def test_import_merges_each_digit_once_and_a_bad_file_changes_nothing(session, tmp_path):
    good = write_idx_pair(session.digits.snapshot(), tmp_path, "class")
    bad = tmp_path / "truncated-labels-idx1-ubyte.gz"
    bad.write_bytes(good[1].read_bytes()[:-10])
    *_views, status, _box = import_files([str(good[0]), str(bad)], session)
    assert status.startswith("⚠️ Nothing imported.") and "truncated-labels-idx1-ubyte.gz" in status
    assert len(session.digits) == 24
    # The same export again, as the pair, as the zip, and both: nothing is duplicated, and it says so.
    zipped = export_files(session)["value"][2]
    for files, copies in (([str(p) for p in good], 0), ([zipped], 0), ([str(p) for p in good] + [zipped], 24)):
        *_views, status, _box = import_files(files, session)
        assert len(session.digits) == 24
        assert status.startswith("Imported 0 digits; you have 24. 24 already kept were skipped.")
        assert (f"The files held {copies} copies" in status) == bool(copies)
    fresh = Session()
    fresh.digits.add_many(session.digits.snapshot().pixels[:10], session.digits.snapshot().labels[:10])
    fresh.digits.cap = 30
    *_views, status = import_files([str(p) for p in good], fresh)[:-1]
    assert len(fresh.digits) == 24 and "Imported 14 digits" in status and "10 already kept were skipped" in status
    fresh.digits.cap = 20
    fresh.digits.clear()
    *_views, status, _box = import_files([str(p) for p in good], fresh)
    assert "at most 20 digits" in status and len(fresh.digits) == 0
    assert "No files given" in import_files([], session)[-2]


def test_a_zip_import_says_how_many_already_kept_were_skipped(session, tmp_path):
    """The zip of PNGs, as the Your digits tab exports it, imported into a collection that already
    holds some of its digits: the sentence counts them, one or many."""
    from mnist_demo.digit_files import write_png_zip

    digits = session.digits.snapshot()
    zipped = str(write_png_zip(digits, tmp_path / "mine-png.zip"))
    for kept, said in ((1, "1 already kept was skipped."), (10, "10 already kept were skipped.")):
        fresh = Session()
        fresh.digits.add_many(digits.pixels[:kept], digits.labels[:kept])
        status = import_files([zipped], fresh)[-2]
        assert status == f"Imported {24 - kept} digits; you have 24. {said}" and len(fresh.digits) == 24


def test_test_results_and_the_digits_behind_each_cell(session):
    models = load_shipped_models()
    html, cell = run_digit_test(session, models, {"linear": "shipped", "cnn": "shipped"}, from_process().mnist)
    assert html.count('class="confusion-table"') == 4 and cell == ""
    counts = {m.group(1): int(m.group(2)) for m in re.finditer(r'data-cell="([^"]+)"[^>]*>(\d+)<', html)}
    assert sum(n for k, n in counts.items() if k.startswith("yours cnn")) == 24
    assert sum(n for k, n in counts.items() if k.startswith("mnist linear")) == 20_000
    for key in [k for k in counts if k.startswith("yours")][:5] + ["mnist cnn 4 9"]:
        shown = cell_digits(session, event(cell=key))
        assert shown.count("<img") == min(counts[key], 60)
        assert f"{counts[key]:,} digit" in shown
    with pytest.raises(gr.Error, match="again"):
        cell_digits(session, event(cell="yours cnn eleven 2"))
    with pytest.raises(gr.Error, match="Keep some digits"):
        run_digit_test(Session(), models, {}, from_process().mnist)


def train_args(**over):
    return controls(**{**dict(which="cnn", preset="fine-tune", lr=3e-4, start_from="shipped weights", include=True),
                       **over})


@pytest.mark.slow  # the quick loop skips it: trains or builds for seconds
def test_fine_tune_from_the_shipped_weights_reports_before_and_after(session):
    shipped = load_shipped_models()
    untouched = copy.deepcopy(shipped["cnn"].state_dict())
    updates = list(run_training(session, None, *train_args(), shipped=shipped))
    final = updates[-1][2]
    held = int(np.sum(session.digits.snapshot().split()[1].labels >= 0))
    assert re.search(rf"CNN: MNIST validation 96\.75% → \d+\.\d\d%, your {held} held-out digits \d+% → \d+%", final)
    acc = updates[-1][1]
    assert set(acc["model"].dropna()) == {"CNN", "CNN · your held-out digits"}
    assert 0 in set(acc["epoch"].dropna())  # where the fine-tune started
    assert "cnn" in session.models
    _model, meta = load_weights(updates[-1][5][0], expect="cnn")  # the download says how it was made
    assert meta["started_from"] == "shipped weights" and f"{held} held out" in meta["own_digits"]
    for k, v in shipped["cnn"].state_dict().items():  # a copy was fine-tuned, never the app's own
        assert torch.equal(v, untouched[k])


def test_fine_tune_refuses_what_it_cannot_do(session):
    with pytest.raises(gr.Error, match="No trained CNN in this tab yet"):
        next(run_training(session, None, *train_args(start_from="my trained weights")))
    with pytest.raises(gr.Error, match="no digits to train on"):
        next(run_training(Session(), None, *train_args(start_from="new weights")))
    with pytest.raises(gr.Error, match="Start from one of"):
        next(run_training(session, None, *train_args(start_from="yesterday")))


@pytest.mark.slow  # the quick loop skips it: trains for seconds
@pytest.mark.long  # every run fine-tunes from the shipped weights above
def test_a_fine_tune_on_own_digits_is_adopted_though_it_trades_a_little_mnist(session):
    """The adaptive fine-tune keeps MNIST within a point by construction and improves the
    visitor's held-out digits: it becomes their weights even when the weights it started from
    scored higher on MNIST (which "a worse run never replaces a better one" would refuse)."""
    shipped = load_shipped_models()
    session.keep_better({"cnn": copy.deepcopy(shipped["cnn"])}, {"cnn": 0.999})  # as if it were near perfect
    before = session.models["cnn"]
    final = list(run_training(session, None, *train_args(start_from="my trained weights"), shipped=shipped))[-1][2]
    assert session.models["cnn"] is not before and session.accuracy["cnn"] < 0.999
    assert "below your earlier" not in final and not session.set_aside
