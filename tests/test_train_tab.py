"""The Train tab through its API (`/train`, streamed) against the launched app."""

import hashlib
import os
import re
import subprocess
import tempfile
import time
from pathlib import Path

import gradio as gr
import numpy as np
import pytest
from gradio_client import handle_file
from PIL import Image

from benchmarks.harness.client import api_client, download
from mnist_demo.driver import Figures, Outcome
from mnist_demo.presets import TrainConfig
from mnist_demo.session import Session
from mnist_demo.settings import from_env
from mnist_demo.training import EpochEvent, StepEvent
from mnist_demo.ui_train import Curves, TrainRequest, control, run_training, verdict
from tests.train_requests import controls

REPO = Path(__file__).resolve().parents[1]

SETTINGS = from_env(os.environ)  # what the launched app reads too
# A training that runs long enough to hold a slot, and answers a cancel within a step: 16 steps an epoch.
LONG = dict(which="cnn", epochs=SETTINGS.max_epochs, subset=1000)


@pytest.fixture(scope="module")
def digit_png(mnist, tmp_path_factory):
    path = tmp_path_factory.mktemp("d") / "d.png"
    Image.fromarray((mnist.x_valid[7].reshape(28, 28) * 256).astype(np.uint8)).save(path)
    return handle_file(str(path))


def shipped_files() -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in (REPO / "weights").glob("*")}


def test_short_training_streams_and_returns_weights(app_url, tmp_path, monkeypatch):
    """Both models train through /train; their weights come back as downloads, and the shipped
    ones in weights/ stay byte for byte as git has them. The harness's client leaves nothing in
    the system's temporary folder (gradio_client's own downloads leave a folder per file)."""
    system = tmp_path / "system"
    system.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(system))
    before = shipped_files()
    job = api_client(app_url).submit(*controls(), api_name="/train")
    final = job.result(timeout=120)
    assert len(job.outputs()) >= 3  # loading message, progress updates, final
    drawn = [row for row in final[0]["data"] if row[1] is not None and row[1] == row[1]]  # not the NaN seeds
    assert {row[2] for row in drawn} == {"Linear training", "Linear validation", "CNN training", "CNN validation"}
    assert "Finished" in final[2]
    assert "confusion" in final[3]
    assert final[4].count("<figure>") == 24 and "Linear " in final[4] and "CNN " in final[4]  # 12 mistakes each
    from mnist_demo.weights import load_weights
    names = sorted(load_weights(p)[1]["model"] for p in download(final[5], tmp_path))
    assert names == ["cnn", "linear"]
    assert list(system.iterdir()) == []
    assert shipped_files() == before
    tracked = subprocess.run(["git", "status", "--porcelain", "weights"], cwd=REPO, capture_output=True, text=True)
    assert tracked.returncode == 0, tracked.stderr  # CI runs in a clone: git answers there
    assert tracked.stdout == ""


def test_cancel_stops_and_frees_the_session_while_others_see_shipped_models(app_url, digit_png):
    trainer, other = api_client(app_url), api_client(app_url)
    before = other.predict(digit_png, api_name="/classify")
    job = trainer.submit(*controls(**LONG), api_name="/train")
    deadline = time.monotonic() + 60
    while len(job.outputs()) < 3 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert len(job.outputs()) >= 3, "no streamed updates"
    during = other.predict(digit_png, api_name="/classify")
    job.cancel()
    deadline = time.monotonic() + 10
    while not job.done() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert job.done()
    # the same session can train again: it is not stuck "running"
    again = trainer.predict(*controls(which="linear", subset=1000), api_name="/train")
    assert "Finished" in again[2]
    after = other.predict(digit_png, api_name="/classify")
    assert before == during == after


@pytest.mark.long  # two trainings at once
def test_visitors_train_side_by_side_one_per_cpu(app_url):
    """With one training per CPU, a second visitor's training runs while a first one's long
    training goes on, instead of waiting in the queue for it."""
    first, second = api_client(app_url), api_client(app_url)
    long_job = first.submit(*controls(**LONG), api_name="/train")
    deadline = time.monotonic() + 60
    while len(long_job.outputs()) < 3 and time.monotonic() < deadline:
        time.sleep(0.2)
    try:
        short = second.submit(*controls(which="linear", subset=1000), api_name="/train")
        if SETTINGS.max_trainings >= 2:
            assert "Finished" in short.result(timeout=60)[2]
            assert not long_job.done()
        else:  # one slot: one training at a time, the second waits its turn
            time.sleep(5)
            assert not short.done()
    finally:
        long_job.cancel()


@pytest.mark.parametrize("over, message", [
    (dict(epochs=10**6), "epochs must be between 1 and 100"),
    (dict(batch_size=10**7), "batch_size must be between 1 and 4096"),
    (dict(lr=50.0), "lr must be between 1e-05 and 1"),
    (dict(subset=3), "limit must be between 10 and 50000"),
    (dict(preset="bogus"), "Unknown preset 'bogus'"),
    (dict(which="resnet"), "Unknown model 'resnet'")])
def test_what_a_client_sends_out_of_bounds_gets_a_sentence(client, over, message):
    with pytest.raises(Exception, match=message):
        client.predict(*controls(**over), api_name="/train")


def test_controls_are_made_from_the_config_fields_and_the_host_caps():
    capped = from_env({"MNIST_MAX_EPOCHS": "3", "MNIST_MAX_DIGITS": "5000"}, cpus=1)
    with gr.Blocks():
        epochs, batch, lr, subset, optimizer = (control(n, capped) for n in
                                                ("epochs", "batch_size", "lr", "limit", "optimizer"))
    assert (epochs.minimum, epochs.maximum, epochs.step, epochs.value) == (1, 3, 1, 2)  # the fast recipe's 2
    assert (batch.minimum, batch.maximum, batch.step, batch.value) == (8, 4096, 8, 64)
    assert (lr.minimum, lr.maximum, lr.value, lr.label) == (1e-5, 1.0, 5e-2, "Learning rate (peak, for one-cycle)")
    assert (subset.minimum, subset.maximum, subset.step, subset.value) == (1000, 5000, 1000, 5000)
    assert [value for _, value in optimizer.choices] == ["adam", "sgd"]


def test_a_host_that_allows_one_value_gets_a_fixed_control_not_a_crash():
    tight = from_env({"MNIST_MAX_EPOCHS": "1", "MNIST_MAX_DIGITS": "1000"}, cpus=1)  # the smallest caps allowed
    with gr.Blocks():
        epochs, subset = control("epochs", tight), control("limit", tight)
    assert (epochs.value, epochs.interactive, subset.value, subset.interactive) == (1, False, 1000, False)
    assert "set by the host" in epochs.label


def test_a_request_is_checked_on_the_server_whatever_the_client_sends():
    req = TrainRequest.from_controls(controls(target=80, include=True), SETTINGS)
    assert req.names == ("linear", "cnn") and req.config.target_acc == 0.8 and req.include_own
    assert (req.config.epochs, req.config.limit, req.config.lr) == (1, 2000, 1e-3)
    for over, message in [(dict(epochs=10**6), "Invalid training settings: epochs must be between 1 and 100"),
                          (dict(batch_size=0), "Invalid training settings: batch_size must be between 1 and 4096"),
                          (dict(seed="x"), "Invalid training settings: invalid literal"),
                          (dict(seed=float("nan")), "Invalid training settings: cannot convert float NaN"),
                          (dict(seed=float("inf")), "Invalid training settings: cannot convert float infinity"),
                          (dict(lr=float("nan")), "Invalid training settings: lr must be between"),
                          (dict(which="resnet"), "Unknown model 'resnet'"),
                          (dict(preset="bogus"), "Unknown preset 'bogus'"),
                          (dict(start_from="yesterday"), "Start from one of: new weights, ")]:
        with pytest.raises(gr.Error, match=re.escape(message)):
            TrainRequest.from_controls(controls(**over), SETTINGS)
    with pytest.raises(gr.Error, match="takes 13 settings, got 10"):
        TrainRequest.from_controls(controls()[:10], SETTINGS)


def test_a_host_caps_epochs_and_digits_for_everyone():
    capped = from_env({"MNIST_MAX_EPOCHS": "3", "MNIST_MAX_DIGITS": "5000"}, cpus=1)
    assert TrainRequest.from_controls(controls(epochs=3, subset=5000), capped).config.epochs == 3
    for epochs, digits in ((4, 5000), (3, 6000)):
        with pytest.raises(gr.Error, match="at most 3 epochs and 5,000 training digits"):
            TrainRequest.from_controls(controls(epochs=epochs, subset=digits), capped)


def test_stop_flag_ends_the_stream_and_keeps_the_model(mnist):
    session = Session()
    stream = run_training(session, None, *controls(which="cnn", epochs=20, subset=1000))
    for i, _update in enumerate(stream):
        if i == 2:
            session.stop.set()
    assert "cnn" in session.models and not session.running
    assert not session.models["cnn"].training


def test_download_folders_are_replaced_and_removed_with_the_session(mnist):
    from pathlib import Path

    from mnist_demo.session import close_session

    session = Session()
    first = Path(list(run_training(session, None, *controls(which="linear", subset=1000)))[-1][5][0]).parent
    assert first.is_dir()
    second = Path(list(run_training(session, None, *controls(which="linear", subset=1000)))[-1][5][0]).parent
    assert second.is_dir() and not first.exists()  # a new training replaces the old files
    close_session(session)
    assert not second.exists() and session.stop.is_set()


def test_a_target_accuracy_ends_the_training_and_says_so(app_url):
    final = api_client(app_url).predict(*controls(which="linear", epochs=10, subset=5000, target=80),
                                                   api_name="/train")
    assert "Linear reached the 80.0% target" in final[2] and "after epoch 1)" in final[2]
    epochs = [row[0] for row in final[1]["data"] if row[1] == row[1] and row[1] is not None]
    assert epochs == [1]  # one epoch of ten, then it stopped


def test_older_api_clients_without_a_target_still_train(app_url):
    final = api_client(app_url).predict(*controls(which="linear", subset=1000)[:10], api_name="/train")
    assert "Finished" in final[2] and "target" not in final[2]


def test_one_training_per_session():
    session = Session()
    assert session.claim_training()
    with pytest.raises(gr.Error, match="already running"):
        next(run_training(session, None, *controls()))


def test_two_starts_at_once_in_one_tab_run_one_training():
    """Two Starts from one tab at the same moment (a double tap, two API calls): one trains,
    the other is refused, and never both (the check and the claim are one step)."""
    import threading

    session, outcomes, go = Session(), [], threading.Barrier(2)

    def start():
        go.wait()
        try:
            for _ in run_training(session, None, *controls(which="linear", subset=1000, epochs=1)):
                pass
            outcomes.append("trained")
        except gr.Error as e:
            outcomes.append(e.message)

    threads = [threading.Thread(target=start) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert sorted(outcomes) == ["A training is already running in this tab: stop it first.", "trained"]


def test_plot_frames_name_every_series_from_the_first_update():
    from mnist_demo.ui_train import plot_frame
    df = plot_frame([{"epoch": 0.1, "loss": 2.0, "curve": "Linear training"}], "epoch", "loss", "curve",
                    ["Linear training", "CNN validation"])
    assert set(df["curve"]) == {"Linear training", "CNN validation"}
    assert df["loss"].notna().sum() == 1


def test_stop_while_waiting_leaves_the_queue_and_a_stale_stop_blocks_nothing(mnist):
    from mnist_demo.session import accept_start, stop_session
    session = Session()
    accept_start(session)  # Start pressed: the training waits for its turn...
    stop_session(session)  # ...and the visitor changes their mind
    updates = list(run_training(session, None, *controls(which="linear", subset=1000)))
    assert updates[-1][2] == "Stopped while waiting for its turn: nothing was trained."
    assert not session.models and not session.running
    stop_session(session)  # a Stop long before an API call does not stop that call
    assert "Finished" in list(run_training(session, None, *controls(which="linear", subset=1000)))[-1][2]
    accept_start(session)  # and a new Start forgets old Stops
    assert "Finished" in list(run_training(session, None, *controls(which="linear", subset=1000)))[-1][2]


def test_a_start_the_page_could_not_answer_yet_is_refused_once_and_trains_nothing(tmp_path):
    """"This device" chosen, but the Start reached the server: the page's trainer had not loaded.
    The validator refuses it (training here would go against the choice); the next Start, an API
    call or a Start with "The server" chosen, is admitted as before."""
    from mnist_demo.classes.tab import admit_class_training
    from mnist_demo.page_trainer import DEVICE, NOT_READY, SERVER, not_ready
    from mnist_demo.session import WAITING
    from mnist_demo.ui_train import accept_start_where, admit_training

    settings = from_env({"MNIST_DATA_DIR": str(tmp_path)})
    session = Session()
    try:
        assert accept_start_where(settings, session, DEVICE) == not_ready(settings)  # said under Start
        assert not_ready(settings).startswith(NOT_READY) and f"“{SERVER}”" in not_ready(settings)
        refused = admit_training(settings, session, *controls(which="linear"))[1]
        assert not refused["is_valid"] and refused["message"] == not_ready(settings)
        assert len(WAITING) == 0  # it took no place in the line
        assert admit_training(settings, session, *controls(which="linear"))[1]["is_valid"]  # an API call
        WAITING.leave(session)
        assert isinstance(accept_start_where(settings, session, SERVER), type(gr.skip()))  # the line left as it is
        assert admit_training(settings, session, *controls(which="linear"))[1]["is_valid"]
        WAITING.leave(session)
        # The teacher's "Train on our class", the same way.
        refused = admit_class_training(settings, session, None, None, DEVICE)[2]
        assert not refused["is_valid"] and refused["message"] == not_ready(settings)
        assert len(WAITING) == 0
    finally:
        WAITING.leave(session)


def test_a_host_that_keeps_its_server_from_training_offers_this_device_alone_and_refuses_the_rest(tmp_path):
    """MNIST_SERVER_TRAINING=0: the choice is "This device" alone, and a Start from the page, a /train
    call or "Train on our class" on the server gets a sentence and no place in the line."""
    from mnist_demo.classes.tab import admit_class_training
    from mnist_demo.page_trainer import DEVICE, NO_SERVER_TRAINING, SERVER, not_ready, where_choices
    from mnist_demo.session import WAITING
    from mnist_demo.ui_train import admit_training

    off = from_env({"MNIST_DATA_DIR": str(tmp_path), "MNIST_SERVER_TRAINING": "0"})
    assert where_choices(off) == [DEVICE] and where_choices(from_env({})) == [DEVICE, SERVER]
    session = Session()
    try:
        refused = admit_training(off, session, *controls(which="linear"))[1]
        assert not refused["is_valid"] and refused["message"] == NO_SERVER_TRAINING.format(device=DEVICE)
        refused = admit_class_training(off, session, None, None, SERVER)[2]
        assert not refused["is_valid"] and refused["message"] == NO_SERVER_TRAINING.format(device=DEVICE)
        assert len(WAITING) == 0
        assert SERVER not in not_ready(off)  # a page not ready yet is not sent to a choice that is not there
    finally:
        WAITING.leave(session)


def step(model, epoch, step_, elapsed, loss=1.0, per_epoch=10):
    return StepEvent(model, epoch, step_, per_epoch, loss, elapsed, epoch * per_epoch + step_)


def epoch_end(model, epoch, elapsed, acc=0.9, held=None):
    return EpochEvent(model, epoch, 2, 0.3, acc, elapsed, 1000.0, held)


def test_curves_smooth_each_models_loss_and_plot_every_series():
    curves = Curves(["linear", "cnn"], with_held=True)
    curves.accuracy("cnn", 0, 0.97, 0.25)  # fine-tuning starts from trained weights
    for event in (step("linear", 0, 5, 1.0, loss=2.0), step("linear", 0, 10, 2.0, loss=1.0),
                  epoch_end("linear", 0, 2.5), step("cnn", 0, 5, 3.0, loss=4.0)):
        curves.add(event)
    losses, accs = curves.frames()
    assert set(losses["curve"]) == {"Linear training", "Linear validation", "CNN training", "CNN validation"}
    drawn = losses.dropna()
    assert drawn["loss"].tolist() == [2.0, 0.8 * 2.0 + 0.2 * 1.0, 0.3, 4.0]  # the CNN's curve starts afresh
    assert drawn["epoch"].tolist() == [0.5, 1.0, 1, 0.5]
    assert accs.dropna().values.tolist() == [[0, 97.0, "CNN"], [0, 25.0, "CNN · your held-out digits"],
                                             [1, 90.0, "Linear"]]
    assert "Linear · your held-out digits" in set(accs["model"])


def test_the_verdict_says_how_it_ended_and_which_weights_are_kept():
    cfg = TrainConfig(target_acc=0.95)
    last = {"linear": epoch_end("linear", 1, 9.0, acc=0.92), "cnn": epoch_end("cnn", 0, 9.0, acc=0.96)}
    after = {"linear": Figures(0.92, None), "cnn": Figures(0.96, None)}
    text = verdict(Outcome({}, last, {}, after, {}, {}, False, 12.4), cfg, 0, {})
    assert text.startswith("Finished; Linear did not reach the 95.0% target (92.00% after epoch 2), CNN reached "
                           "the 95.0% target (96.00% after epoch 1) after 12 s.")
    assert text.endswith("pick “my trained weights” in the Draw tab, or download them below.")
    kept = verdict(Outcome({}, {}, {}, {"cnn": Figures(0.41, None)}, {}, {}, True, 3), TrainConfig(), 0,
                   {"cnn": 0.97})
    assert kept.startswith("Stopped after 3 s. CNN: this run ended at 41.00%, below your earlier 97.00%")
    assert kept.endswith("Download this run's weights below.")


def test_a_stopped_run_keeps_the_sessions_better_model_and_offers_the_new_one(mnist):
    from mnist_demo.inference import load_shipped_models
    from mnist_demo.weights import load_weights

    session = Session()
    shipped = load_shipped_models()["linear"]
    session.keep_better({"linear": shipped}, {"linear": 0.92})
    updates = []
    for update in run_training(session, None, *controls(which="linear", epochs=5, subset=1000)):
        updates.append(update)
        if len(updates) == 2:
            session.stop.set()  # at its first progress update: far below the earlier model
    final = updates[-1][2]
    assert session.models["linear"] is shipped and session.accuracy["linear"] == 0.92
    assert "below your earlier 92.00%" in final and "the earlier one stays your “my trained weights”" in final
    new, meta = load_weights(updates[-1][5][0], expect="linear")  # the new one is still there to download
    assert "valid_acc" not in meta  # stopped before its first epoch ended
    assert not all(p.equal(q) for p, q in zip(new.parameters(), shipped.parameters(), strict=True))


@pytest.mark.parametrize("start_from", ["shipped weights", "new weights"])
def test_progress_with_own_digits_counts_to_its_own_total(mnist, start_from):
    """Own digits mixed in, and from trained weights the adaptive fine-tune, whose stages differ in
    length: the progress line's step count ends exactly at its total, never past it, and its ETA is
    never negative (it once read "step 621/594 · ETA -0 s")."""
    from mnist_demo.inference import load_shipped_models

    session = Session()
    session.digits.add_many((mnist.x_valid[:40] * 256).astype(np.uint8), mnist.y_valid[:40])
    updates = list(run_training(session, None, *controls(which="linear", preset="fine-tune", lr=3e-4, subset=2000,
                                                         start_from=start_from, include=True),
                                shipped=load_shipped_models()))
    progress = [re.search(r"step ([\d,]+)/([\d,]+) · ETA (-?[\d,]+) s", u[2]) for u in updates[1:-1]]
    counts = [(int(m[1].replace(",", "")), int(m[2].replace(",", ""))) for m in progress]
    assert counts and all(done <= total for done, total in counts)
    assert counts[-1][0] == counts[-1][1], counts  # the last event of the run: every step done
    assert all(not m[3].startswith("-") for m in progress)
    assert "Finished" in updates[-1][2]
