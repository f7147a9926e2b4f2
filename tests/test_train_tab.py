"""The Train tab through its API (`/train`, streamed) against the launched app."""

import os
import subprocess
import sys
import time

import numpy as np
import pytest
from gradio_client import Client, handle_file
from PIL import Image

from mnist_demo.session import Session
from mnist_demo.ui_train import config_from_controls, run_training

TINY = dict(which="both", preset="tutorial", epochs=1, lr=1e-3, batch_size=64, optimizer="adam",
            schedule="constant", subset=2000, seed=0, augment=False, target=0, start_from="new weights",
            include=False)


def args(**over):
    a = {**TINY, **over}
    return [a[k] for k in ("which", "preset", "epochs", "lr", "batch_size", "optimizer", "schedule", "subset",
                           "seed", "augment", "target", "start_from", "include")]


@pytest.fixture(scope="module")
def digit_png(mnist, tmp_path_factory):
    path = tmp_path_factory.mktemp("d") / "d.png"
    Image.fromarray((mnist.x_valid[7].reshape(28, 28) * 256).astype(np.uint8)).save(path)
    return handle_file(str(path))


def test_short_training_streams_and_returns_weights(app_url):
    job = Client(app_url, verbose=False).submit(*args(), api_name="/train")
    final = job.result(timeout=120)
    assert len(job.outputs()) >= 3  # loading message, progress updates, final
    drawn = [row for row in final[0]["data"] if row[1] is not None and row[1] == row[1]]  # not the NaN seeds
    assert {row[2] for row in drawn} == {"Linear training", "Linear validation", "CNN training", "CNN validation"}
    assert "Finished" in final[2]
    assert "confusion" in final[3] and len(final[4]) > 0
    from mnist_demo.weights import load_weights
    names = sorted(load_weights(p)[1]["model"] for p in final[5])
    assert names == ["cnn", "linear"]


def test_cancel_stops_and_frees_the_session_while_others_see_shipped_models(app_url, digit_png):
    trainer, other = Client(app_url, verbose=False), Client(app_url, verbose=False)
    before = other.predict(digit_png, api_name="/classify")
    job = trainer.submit(*args(which="cnn", epochs=30, subset=50_000), api_name="/train")
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
    again = trainer.predict(*args(which="linear", subset=1000), api_name="/train")
    assert "Finished" in again[2]
    after = other.predict(digit_png, api_name="/classify")
    assert before == during == after


def test_visitors_train_side_by_side_one_per_cpu(app_url):
    """With one training per CPU, a second visitor's training runs while a first one's long
    training goes on, instead of waiting in the queue for it."""
    from mnist_demo.ui_train import CPUS

    first, second = Client(app_url, verbose=False), Client(app_url, verbose=False)
    long_job = first.submit(*args(which="cnn", epochs=30, subset=50_000), api_name="/train")
    deadline = time.monotonic() + 60
    while len(long_job.outputs()) < 3 and time.monotonic() < deadline:
        time.sleep(0.2)
    try:
        short = second.submit(*args(which="linear", subset=1000), api_name="/train")
        if CPUS >= 2:
            assert "Finished" in short.result(timeout=60)[2]
            assert not long_job.done()
        else:  # one CPU: one training at a time, the second waits its turn
            time.sleep(5)
            assert not short.done()
    finally:
        long_job.cancel()


@pytest.mark.parametrize("over, message", [
    (dict(epochs=10**6), "epochs|maximum"), (dict(batch_size=10**7), "batch|maximum"),
    (dict(lr=50.0), "lr|maximum"), (dict(preset="bogus"), "bogus|preset|Value"),
    (dict(which="resnet"), "resnet|Value"), (dict(subset=3), "limit|minimum")])
def test_out_of_range_requests_are_refused(client, over, message):
    with pytest.raises(Exception, match=message):
        client.predict(*args(**over), api_name="/train")


def test_server_side_bounds_without_the_components():
    """The bounds hold even if a request bypasses the sliders' own checks."""
    import gradio as gr
    with pytest.raises(gr.Error, match="epochs must be between"):
        config_from_controls("tutorial", 10**6, 1e-3, 64, "adam", "constant", 1000, 0, False)
    with pytest.raises(gr.Error, match="batch_size must be between"):
        config_from_controls("tutorial", 1, 1e-3, 10**7, "adam", "constant", 1000, 0, False)


def test_a_host_caps_epochs_and_digits_for_everyone(monkeypatch):
    import gradio as gr

    from mnist_demo import ui_train

    monkeypatch.setattr(ui_train, "MAX_EPOCHS", 3)
    monkeypatch.setattr(ui_train, "MAX_DIGITS", 5000)
    assert config_from_controls("tutorial", 3, 1e-3, 64, "adam", "constant", 5000, 0, False).epochs == 3
    for epochs, digits in ((4, 5000), (3, 6000)):
        with pytest.raises(gr.Error, match="at most 3 epochs and 5,000 training digits"):
            config_from_controls("tutorial", epochs, 1e-3, 64, "adam", "constant", digits, 0, False)
    read = subprocess.run(  # the caps come from the environment, clamped to the trainer's own bounds
        [sys.executable, "-c", "from mnist_demo import ui_train as u; print(u.MAX_EPOCHS, u.MAX_DIGITS)"],
        env={**os.environ, "MNIST_MAX_EPOCHS": "5", "MNIST_MAX_DIGITS": "999999"},
        capture_output=True, text=True, check=True)
    assert read.stdout.split() == ["5", "50000"]


def test_stop_flag_ends_the_stream_and_keeps_the_model(mnist):
    session = Session()
    stream = run_training(*args(which="cnn", epochs=20, subset=50_000), session)
    for i, _update in enumerate(stream):
        if i == 2:
            session.stop.set()
    assert "cnn" in session.models and not session.running
    assert not session.models["cnn"].training


def test_download_folders_are_replaced_and_removed_with_the_session(mnist):
    from pathlib import Path

    from mnist_demo.session import close_session

    session = Session()
    first = Path(list(run_training(*args(which="linear", subset=1000), session))[-1][5][0]).parent
    assert first.is_dir()
    second = Path(list(run_training(*args(which="linear", subset=1000), session))[-1][5][0]).parent
    assert second.is_dir() and not first.exists()  # a new training replaces the old files
    close_session(session)
    assert not second.exists() and session.stop.is_set()


def test_a_target_accuracy_ends_the_training_and_says_so(app_url):
    final = Client(app_url, verbose=False).predict(*args(which="linear", epochs=10, subset=5000, target=80),
                                                   api_name="/train")
    assert "Linear reached the 80.0% target" in final[2] and "after epoch 1)" in final[2]
    epochs = [row[0] for row in final[1]["data"] if row[1] == row[1] and row[1] is not None]
    assert epochs == [1]  # one epoch of ten, then it stopped


def test_older_api_clients_without_a_target_still_train(app_url):
    final = Client(app_url, verbose=False).predict(*args(which="linear", subset=1000)[:10], api_name="/train")
    assert "Finished" in final[2] and "target" not in final[2]


def test_one_training_per_session():
    import gradio as gr
    session = Session()
    session.running = True
    with pytest.raises(gr.Error, match="already running"):
        next(run_training(*args(), session))


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
    updates = list(run_training(*args(which="linear", subset=1000), session=session))
    assert updates[-1][2] == "Stopped while waiting for its turn: nothing was trained."
    assert not session.models and not session.running
    stop_session(session)  # a Stop long before an API call does not stop that call
    assert "Finished" in list(run_training(*args(which="linear", subset=1000), session=session))[-1][2]
    accept_start(session)  # and a new Start forgets old Stops
    assert "Finished" in list(run_training(*args(which="linear", subset=1000), session=session))[-1][2]
