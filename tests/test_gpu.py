"""ZeroGPU readiness (mnist_demo/gpu.py): the decorated path trains exactly as the plain one off
ZeroGPU, the GPU time asked for grows with the recipe and stays within what ZeroGPU allows, a run
that would not fit a visitor's quota trains on the CPU and says so, and what crosses ZeroGPU's
process boundary survives pickling."""

import copy
import dataclasses
import pickle

import pytest
import torch

from mnist_demo import gpu
from mnist_demo.collection import Digits
from mnist_demo.models import MODEL_NAMES
from mnist_demo.presets import PRESETS
from mnist_demo.session import Session
from mnist_demo.settings import from_process
from mnist_demo.training import EpochEvent, new_model, train
from mnist_demo.ui_train import run_training
from tests.train_requests import controls

SHORT = dataclasses.replace(PRESETS["fast"], epochs=1, limit=1000)
SETTINGS = from_process()  # MNIST_DIR, as the tests' mnist fixture loads it
SOURCE = SETTINGS.mnist


def same_weights(a, b) -> bool:
    return all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values(), strict=True))


def own_digits(mnist, n=40) -> Digits:
    import numpy as np
    pixels = np.rint(mnist.x_valid[:n] * 256).astype(np.uint8)
    return Digits(pixels, mnist.y_valid[:n].astype(np.uint8), np.arange(n))


def test_off_zerogpu_the_decorated_job_is_the_plain_one_and_trains_the_same(mnist):
    assert not SETTINGS.zero_gpu
    assert gpu.on_gpu is gpu.train_job  # spaces.GPU handed the function back unchanged
    place = gpu.placement(["linear"], mnist, SHORT, zero_gpu=True, mnist=SOURCE)  # as on ZeroGPU, with a short run
    assert place.where == "zerogpu"
    start = new_model("linear", SHORT)
    job = place.training("linear", copy.deepcopy(start), SHORT)
    events = list(job)
    model, choice = job.finish()
    reference = copy.deepcopy(start)
    expected = list(train(reference, mnist, SHORT))
    assert [e.valid_acc for e in events if isinstance(e, EpochEvent)] == \
        [e.valid_acc for e in expected if isinstance(e, EpochEvent)]
    assert same_weights(model, reference) and choice is None
    assert next(model.parameters()).device.type == "cpu" and not model.training


def test_a_stop_keeps_exactly_what_was_trained_at_that_event(mnist):
    cfg = dataclasses.replace(PRESETS["tutorial"], epochs=3, limit=2000, log_every=5)
    start = new_model("cnn", cfg)
    job = gpu.Training(60, copy.deepcopy(start), cfg, SOURCE)
    for seen, _event in enumerate(job, 1):
        if seen == 4:
            break
    model, _ = job.finish()
    reference = copy.deepcopy(start)
    events = train(reference, mnist, cfg)
    for _ in range(4):
        next(events)
    assert same_weights(model, reference)
    assert not job.stop.is_set()  # its flag file is gone


def test_a_stop_file_is_seen_by_another_reader_of_its_path():
    flag = gpu.StopFlag()
    elsewhere = pickle.loads(pickle.dumps(flag.path))  # what ZeroGPU's worker receives
    assert not gpu.StopFlag(elsewhere).is_set()
    flag.set()
    assert gpu.StopFlag(elsewhere).is_set()
    flag.remove()
    assert not gpu.StopFlag(elsewhere).is_set()


def test_what_crosses_into_zerogpus_worker_and_back_survives_pickling(mnist):
    """ZeroGPU pickles the call's arguments into its worker and every item yielded back; the
    trained model must come back on the CPU (a CUDA tensor cannot cross)."""
    fit, held = own_digits(mnist).split()
    cfg = dataclasses.replace(PRESETS["fine-tune"], limit=2000)
    args = (30, new_model("linear", cfg), cfg, fit, held, True, gpu.StopFlag().path, SOURCE)
    items = [pickle.loads(pickle.dumps(item)) for item in gpu.train_job(*pickle.loads(pickle.dumps(args)))]
    done = items[-1]
    assert isinstance(done, gpu.Done) and done.choice is not None and done.choice.model == "linear"
    assert all(p.device.type == "cpu" for p in done.model.parameters())
    assert any(isinstance(item, EpochEvent) for item in items[:-1])


@pytest.mark.parametrize("preset", list(PRESETS))
def test_the_gpu_time_grows_with_epochs_and_digits_and_is_capped(mnist, preset):
    base = PRESETS[preset]
    for name in MODEL_NAMES:
        by_epochs = [gpu.gpu_seconds(name, gpu.work(mnist, dataclasses.replace(base, epochs=e, limit=10_000)))
                     for e in (1, 2, 5, 15, 50, 100)]
        by_digits = [gpu.gpu_seconds(name, gpu.work(mnist, dataclasses.replace(base, epochs=2, limit=n)))
                     for n in (1000, 5000, 20_000, 50_000)]
        for series in (by_epochs, by_digits):
            assert all(a < b for a, b in zip(series, series[1:], strict=False)), series
        asked = [gpu.duration(s) for s in by_epochs]
        assert asked[0] >= by_epochs[0] and all(a <= gpu.MAX_DURATION for a in asked)
    biggest = dataclasses.replace(base, epochs=100, limit=None, batch_size=8)
    place = gpu.placement(MODEL_NAMES, mnist, biggest, zero_gpu=False, mnist=SOURCE)
    assert place.seconds == dict.fromkeys(MODEL_NAMES, gpu.MAX_DURATION)


def test_the_adaptive_fine_tunes_gpu_time_grows_with_the_visitors_digits(mnist):
    cfg = PRESETS["fine-tune"]
    seconds = [gpu.gpu_seconds("cnn", gpu.work(mnist, cfg, *own_digits(mnist, n).split(), adaptive=True))
               for n in (8, 40, 400)]
    assert seconds[0] < seconds[1] < seconds[2]
    assert gpu.gpu_seconds("cnn", gpu.work(mnist, cfg)) < gpu.gpu_seconds("cnn", gpu.work(mnist, PRESETS["tutorial"]))


def test_on_zerogpu_a_run_that_could_not_fit_a_visitors_quota_is_refused_with_what_fits(mnist):
    where = {}
    for epochs in range(1, 51):
        cfg = dataclasses.replace(PRESETS["tutorial"], epochs=epochs)
        place = gpu.placement(MODEL_NAMES, mnist, cfg, zero_gpu=True, mnist=SOURCE)
        total = sum(gpu.gpu_seconds(n, gpu.work(mnist, cfg)) for n in MODEL_NAMES)
        assert total == pytest.approx(gpu.run_seconds(MODEL_NAMES, mnist, cfg))
        assert place.where == ("zerogpu" if total <= gpu.DAILY_QUOTA else "refused"), (epochs, total)
        assert (place.refusal != "") == (place.where == "refused")
        assert gpu.placement(MODEL_NAMES, mnist, cfg, zero_gpu=False, mnist=SOURCE) == \
            gpu.Placement("here", place.seconds, SOURCE)
        where.setdefault(place.where, (epochs, place))
    assert set(where) == {"zerogpu", "refused"}  # the sweep crosses the quota
    first_refused, place = where["refused"]
    assert "120 s a day" in place.refusal and "210 s with a free Hugging Face account" in place.refusal
    fits = first_refused - 1
    assert place.refusal.endswith(f"Up to {fits} epoch{'s' * (fits > 1)} of it fit.")
    with pytest.raises(ValueError, match="not started"):
        place.training("cnn", new_model("cnn", SHORT), SHORT)


def test_the_train_tab_refuses_before_training_what_zerogpu_could_not_finish(mnist):
    import gradio as gr
    on_zero_gpu = dataclasses.replace(SETTINGS, zero_gpu=True)  # what SPACES_ZERO_GPU=true gives
    session = Session()
    with pytest.raises(gr.Error, match=r"This training \(Linear and CNN\) could need up to \d+ s of GPU time"):
        list(run_training(session, None, *controls(which="both", preset="tutorial", epochs=50, subset=50_000),
                          settings=on_zero_gpu))
    assert not session.models and not session.running  # nothing trained, and the tab may start again
