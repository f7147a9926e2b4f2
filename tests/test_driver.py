"""The training driver without a UI: what a run starts from, the time left, and one small run
driven to its end, its before/after figures measured once each."""

import threading

import numpy as np
import pytest

from mnist_demo import driver, gpu
from mnist_demo.collection import Collection
from mnist_demo.driver import (
    STEP_COST,
    Begun,
    Eta,
    Outcome,
    Plan,
    Progress,
    RunError,
    drive,
    split_digits,
    starting_models,
)
from mnist_demo.inference import load_shipped_models
from mnist_demo.presets import PRESETS, TrainConfig
from mnist_demo.settings import from_process


def test_the_eta_counts_the_slower_models_steps_still_to_come():
    eta = Eta({"linear": 100, "cnn": 100})
    assert eta.seconds_left() is None  # nothing measured yet
    eta.record("linear", 50, 5.0)  # 0.1 s a step
    linear_left, cnn_estimate = 50 * 0.1, 100 * 0.1 * STEP_COST["cnn"]
    assert eta.seconds_left() == pytest.approx(linear_left + cnn_estimate)
    eta.record("linear", 100, 10.0)
    eta.record("cnn", 10, 3.0)  # the CNN measured: 0.3 s a step
    assert eta.seconds_left() == pytest.approx(90 * 0.3)
    assert (eta.steps_done, eta.total_steps) == (110, 200)
    eta.record("linear", 40, 4.0)
    eta.finish("linear")  # it reached its target early: none of its steps remain
    assert eta.total_steps == 140 and eta.seconds_left() == pytest.approx(90 * 0.3)


def test_the_eta_is_never_below_zero():
    eta = Eta({"linear": 10})
    eta.record("linear", 12, 1.2)  # a run past its estimate
    assert eta.seconds_left() == 0.0



def test_what_a_run_cannot_start_from_is_said():
    with pytest.raises(RunError, match="No trained CNN in this tab yet"):
        starting_models(("linear", "cnn"), "my trained weights", TrainConfig(), {"linear": object()}, None)
    with pytest.raises(RunError, match="no shipped weights"):
        starting_models(("linear",), "shipped weights", TrainConfig(), {}, None)
    with pytest.raises(RunError, match="no digits to train on yet"):
        split_digits(Collection().snapshot())


def test_a_fine_tune_is_measured_once_before_and_once_after(mnist_small, monkeypatch):
    """Shipped weights and own digits (the class's training, or "Include my digits"): the figures
    before and after come from one evaluation of each model on each set, and the Outcome carries
    the evaluation the Train tab draws its confusion matrices from."""
    digits = Collection()
    digits.add_many((mnist_small.x_valid[:40] * 256).astype(np.uint8), mnist_small.y_valid[:40])
    own, held = split_digits(digits.snapshot())
    cfg = TrainConfig(**{**PRESETS["fine-tune"].__dict__, "limit": 1000})
    plan = Plan(("linear",), "fine-tune", cfg, "shipped weights", own, held)
    calls = {"valid": 0, "model": 0}
    evaluate, evaluate_model = driver.evaluate, driver.evaluate_model
    monkeypatch.setattr(driver, "evaluate", lambda *a: calls.__setitem__("valid", calls["valid"] + 1) or evaluate(*a))
    monkeypatch.setattr(driver, "evaluate_model",
                        lambda *a: calls.__setitem__("model", calls["model"] + 1) or evaluate_model(*a))
    starts = starting_models(plan.names, plan.start_from, cfg, {}, load_shipped_models())
    place = gpu.placement(plan.names, mnist_small, cfg, own, held, plan.adaptive, zero_gpu=False,
                          mnist=from_process().mnist)
    steps = list(drive(plan, mnist_small, starts, threading.Event(), place))
    begun, outcome = steps[0], steps[-1]
    assert isinstance(begun, Begun) and begun.before.held is not None and 0.9 < begun.before.valid <= 1
    assert all(isinstance(s, Progress) for s in steps[1:-1]) and isinstance(outcome, Outcome)
    assert calls == {"valid": 1, "model": 1}  # before: accuracy alone; after: the evaluation, once
    assert outcome.after["linear"].valid == outcome.evaluations["linear"].accuracy
    assert outcome.before["linear"] == begun.before and "linear" in outcome.choices and not outcome.stopped
    assert steps[-2].eta.steps_done == steps[-2].eta.total_steps  # the estimate's count ends at its total


def test_stop_ends_the_run_with_what_was_trained(mnist_small):
    cfg = TrainConfig(epochs=3, limit=1000)
    plan = Plan(("linear", "cnn"), "fast", cfg, "new weights")
    stop = threading.Event()
    place = gpu.placement(plan.names, mnist_small, cfg, zero_gpu=False, mnist=from_process().mnist)
    for step in drive(plan, mnist_small, starting_models(plan.names, plan.start_from, cfg, {}, None), stop, place):
        if isinstance(step, Progress):
            stop.set()
    assert isinstance(step, Outcome) and step.stopped and list(step.models) == ["linear"]  # the CNN never began
    assert step.before == {}  # new weights, no held digits: nothing to measure before
