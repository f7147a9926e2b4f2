"""The adaptive fine-tune (mnist_demo/finetune.py): never more than 1 point lost on MNIST, a
held-out style learned, and its choice recorded. On the shipped linear model, which fine-tunes in
about a second."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from mnist_demo import finetune
from mnist_demo.collection import Digits
from mnist_demo.evaluation import evaluate, evaluate_digits
from mnist_demo.finetune import EpochEvent, FineTuneChoice, StepEvent, adaptive_finetune, blended
from mnist_demo.presets import PRESETS
from mnist_demo.training import as_tensors

from .test_train import slashed_zeros


@pytest.fixture(scope="module")
def shipped():
    from mnist_demo.inference import load_shipped_models

    return load_shipped_models()


def valid_acc(model, mnist) -> float:
    return evaluate(model, *as_tensors(mnist, torch.device("cpu"))[2:])[1]


def run_all(model, mnist, own, held, **kw):
    run = adaptive_finetune(model, mnist, PRESETS["fine-tune"], own, held, **kw)
    events = list(run)
    return run, events


def against_mnist(mnist, n=80) -> Digits:
    """MNIST's own 1s labelled 7: what the models would have to unlearn MNIST to learn."""
    ones = mnist.x_valid[mnist.y_valid == 1][:n]
    return Digits(np.rint(ones * 256).astype(np.uint8), np.full(n, 7, np.uint8), np.arange(n))


def test_blending_goes_in_a_straight_line():
    start, end = {"w": torch.zeros(3), "n": torch.tensor(5)}, {"w": torch.ones(3) * 4, "n": torch.tensor(7)}
    mixed = blended(start, end, 0.75)
    assert torch.equal(mixed["w"], torch.full((3,), 3.0)) and mixed["n"] == 7


def test_it_learns_a_held_out_style_and_keeps_mnist(mnist, shipped):
    zeros = slashed_zeros(mnist, 40)
    own, held = zeros.part(zeros.ids < 30), zeros.part(zeros.ids >= 30)
    model = copy.deepcopy(shipped["linear"]).train()
    before, valid_before = evaluate_digits(model, held), valid_acc(model, mnist)
    run, events = run_all(model, mnist, own, held)
    epochs = [e for e in events if isinstance(e, EpochEvent)]
    assert any(isinstance(e, StepEvent) for e in events)
    assert [e.epoch for e in epochs] == list(range(len(epochs))) and all(e.epochs == len(finetune.SHARES)
                                                                          for e in epochs)
    choice = run.choice
    assert isinstance(choice, FineTuneChoice) and not choice.kept_start
    assert evaluate_digits(model, held) == choice.held_after >= before + 0.3
    assert valid_acc(model, mnist) == pytest.approx(choice.valid_after)
    assert valid_before - choice.valid_after <= 0.01
    # What it chose is said in a sentence and in the weights' metadata.
    assert f"{choice.share:.0%} share" in choice.sentence() and "MNIST validation" in choice.sentence()
    meta = choice.metadata()
    assert meta["adaptive_fine_tune"] == choice.sentence() and float(meta["adaptive_share"]) == choice.share
    assert float(meta["adaptive_valid_after"]) == pytest.approx(choice.valid_after, abs=1e-6)
    last = choice.event(3.0)
    assert last.valid_acc == choice.valid_after and last.own_held_acc == choice.held_after
    assert last.valid_loss == pytest.approx(evaluate(model, *as_tensors(mnist, torch.device("cpu"))[2:])[0])


def test_digits_labelled_against_mnist_never_cost_more_than_a_point(mnist, shipped):
    bad = against_mnist(mnist)
    own, held = bad.part(bad.ids < 60), bad.part(bad.ids >= 60)
    model = copy.deepcopy(shipped["linear"]).train()
    valid_before = valid_acc(model, mnist)
    run, _ = run_all(model, mnist, own, held)
    assert valid_before - valid_acc(model, mnist) <= 0.01  # whatever it chose
    assert run.choice.valid_before == pytest.approx(valid_before)
    # The full shares would have forgotten far more: the budget is what held it back.
    assert run.choice.subset_before - min(s.subset_acc for s in run.choice.tried) > 0.01


def test_with_no_room_it_returns_the_starting_weights_and_says_so(mnist, shipped, monkeypatch):
    monkeypatch.setattr(finetune, "MAX_MNIST_LOSS", -0.05)  # nothing can qualify: 5 points better than the start
    bad = against_mnist(mnist, 40)
    own, held = bad.part(bad.ids < 30), bad.part(bad.ids >= 30)
    model = copy.deepcopy(shipped["linear"]).train()
    start = copy.deepcopy(model.state_dict())
    run, _ = run_all(model, mnist, own, held, shares=(0.3,))
    assert run.choice.kept_start and run.choice.stages == 0 and run.choice.held_after == run.choice.held_before
    assert all(torch.equal(v, start[k]) for k, v in model.state_dict().items())
    assert "starting weights are returned unchanged" in run.choice.sentence()
    assert run.choice.metadata()["adaptive_share"] == "start"


def test_without_held_out_digits_it_judges_on_the_training_ones(mnist, shipped):
    zeros = slashed_zeros(mnist, 20)
    model = copy.deepcopy(shipped["linear"]).train()
    run, _ = run_all(model, mnist, zeros, None, shares=(0.2,))
    assert run.choice.judged_on == "training" and run.choice.held == 20
    assert "training digits" in run.choice.sentence()


def test_a_run_stopped_early_still_picks_within_budget(mnist, shipped):
    zeros = slashed_zeros(mnist, 40)
    own, held = zeros.part(zeros.ids < 30), zeros.part(zeros.ids >= 30)
    model = copy.deepcopy(shipped["linear"]).train()
    run = adaptive_finetune(model, mnist, PRESETS["fine-tune"], own, held)
    for event in run:
        if event.epoch == 1:  # stopped as the second stage begins
            break
    choice = run.finish()
    assert run.finish() is choice and {s.epochs for s in choice.tried} == {1}
    assert choice.valid_before - valid_acc(model, mnist) <= 0.01


def test_it_needs_digits_to_train_on(mnist, shipped):
    with pytest.raises(ValueError, match="needs some of your digits"):
        adaptive_finetune(copy.deepcopy(shipped["linear"]), mnist, PRESETS["fine-tune"], None)
