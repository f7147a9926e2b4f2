"""A training run as the app drives it, with no UI in it: the models it starts from, the digits of
a visitor (or of a class) split for it, each model's run in turn, the fine-tune's choice, and the
figures before and after, each measured once. The Train tab (ui_train.py) and the class's training
(classes/training.py) render what ``drive`` yields: ``Begun`` as a model starts, ``Progress`` at
every event of the loop, and one ``Outcome`` at the end.

The same loop runs on the command line (train.py); this adds what a page needs around it: an
estimate of the time left, Stop, and where the run may use a GPU (gpu.placement)."""

from __future__ import annotations

import copy
import dataclasses
import threading
import time
from collections.abc import Iterator, Sequence

import torch

from .collection import Digits
from .data import MNIST
from .evaluation import Evaluation, evaluate, evaluate_digits, evaluate_model
from .finetune import SHARES, FineTuneChoice, fine_tunes, stage_steps
from .models import MODEL_TITLES
from .presets import TrainConfig
from .training import EpochEvent, StepEvent, as_tensors, new_model, steps_per_epoch

NEW, SHIPPED_START, MINE_START = START_FROM = ("new weights", "shipped weights", "my trained weights")
# A training step's cost relative to the linear model's, for a model whose steps are not measured
# yet. Measured with one torch thread: a CNN step costs 6x a linear one at batch 64, 15x at 256.
STEP_COST = {"linear": 1.0, "cnn": 8.0}


class RunError(ValueError):
    """Why a run cannot start, as a sentence for the person who asked."""


# ---------------------------------------------------------------------------- what a run starts from


def starting_models(names: Sequence[str], start_from: str, cfg: TrainConfig, mine: dict,
                    shipped: dict | None) -> dict:
    """The models a run starts from: new ones, or copies of trained ones to fine-tune (``mine``:
    the visitor's trained models; ``shipped``: the app's)."""
    if start_from == MINE_START:
        missing = [MODEL_TITLES[n] for n in names if n not in mine]
        if missing:
            raise RunError(f"No trained {' or '.join(missing)} in this tab yet: train one first, or start from "
                           "the shipped weights.")
        return {n: copy.deepcopy(mine[n]).train() for n in names}
    if start_from == SHIPPED_START:
        if shipped is None:
            raise RunError("This app has no shipped weights to start from.")
        return {n: copy.deepcopy(shipped[n]).train() for n in names}
    return {n: new_model(n, cfg) for n in names}


def split_digits(digits: Digits) -> tuple[Digits, Digits]:
    """(digits to train on, digits held out to measure the result): a quarter of each label."""
    own, held = digits.split()
    if not len(own):
        raise RunError("Your collection has no digits to train on yet: keep a few in the Draw tab first "
                       "(a quarter of them is held out to measure the result).")
    return own, held


@dataclasses.dataclass(frozen=True)
class Plan:
    """One run: which models, with which recipe, from where, with which own digits."""

    names: tuple[str, ...]
    preset: str
    config: TrainConfig
    start_from: str  # one of START_FROM
    own: Digits | None = None  # the digits mixed in, or None
    held: Digits | None = None  # the quarter held out of them, measured before and after

    @property
    def adaptive(self) -> bool:
        """Trained weights and own digits: the adaptive fine-tune (finetune.py), which chooses how
        much of the digits to use and stops within a point of MNIST."""
        return fine_tunes(self.start_from != NEW, self.own)

    @property
    def epochs(self) -> int:
        """What the curves count as epochs: the adaptive fine-tune's stages, or the recipe's."""
        return len(SHARES) if self.adaptive else self.config.epochs

    def steps(self, data: MNIST) -> int:
        """One model's steps: every epoch of training, or every stage of the adaptive fine-tune."""
        if self.adaptive:
            return stage_steps(data, self.config, self.own)
        return self.config.epochs * steps_per_epoch(data, self.config, self.own)


# ---------------------------------------------------------------------------- time left


class Eta:
    """Seconds left in a run: the steps that remain for every model, each at its model's measured
    seconds per step. A model not started yet is estimated from a measured one, scaled by STEP_COST
    (otherwise a run of both models would promise the CNN the linear model's speed)."""

    def __init__(self, steps: dict[str, int]):
        self.steps = dict(steps)  # each model's steps in this run
        self.done = dict.fromkeys(steps, 0)
        self.seconds = dict.fromkeys(steps, 0.0)

    def record(self, name: str, steps_done: int, seconds: float) -> None:
        """``name`` has done ``steps_done`` steps in ``seconds`` (validation included)."""
        self.done[name], self.seconds[name] = steps_done, seconds

    def add(self, event: StepEvent | EpochEvent) -> None:
        """The run's steps so far as the trainer counts them (StepEvent.steps_done); an EpochEvent
        brings only the time its validation took, after the same steps."""
        done = event.steps_done if isinstance(event, StepEvent) else self.done[event.model]
        self.record(event.model, done, event.elapsed)

    def finish(self, name: str) -> None:
        """``name`` is done, maybe early (a target accuracy reached): none of its steps remain."""
        self.steps[name] = self.done[name]

    @property
    def steps_done(self) -> int:
        return sum(self.done.values())

    @property
    def total_steps(self) -> int:
        return sum(self.steps.values())

    def seconds_left(self) -> float | None:
        """None until a step has been measured."""
        rates = {n: self.seconds[n] / self.done[n] for n in self.steps if self.done[n]}
        if not rates:
            return None
        known = max(rates, key=self.done.get)  # the rate measured over the most steps

        def rate(name: str) -> float:
            return rates.get(name, rates[known] * STEP_COST[name] / STEP_COST[known])

        # Never below 0 s: a run that overshoots its estimate has nothing left, not negative time.
        return max(0.0, sum((self.steps[n] - self.done[n]) * rate(n) for n in self.steps))


# ---------------------------------------------------------------------------- what drive yields


@dataclasses.dataclass(frozen=True)
class Figures:
    """A model's accuracy on MNIST's validation digits, and on the held-out own digits (None
    without them)."""

    valid: float
    held: float | None


@dataclasses.dataclass(frozen=True)
class Begun:
    """A model's run begins; ``before``: where it starts, when it was trained before or is measured
    on held-out digits (the curves' epoch 0), else None."""

    name: str
    before: Figures | None


@dataclasses.dataclass(frozen=True)
class Progress:
    event: StepEvent | EpochEvent
    eta: Eta


@dataclasses.dataclass
class Outcome:
    """The run's end, stopped or not. ``after`` and ``evaluations`` are the weights kept (for the
    fine-tune, its choice, which need not be the last step's)."""

    models: dict  # name -> the trained nn.Module, on the CPU
    last: dict[str, EpochEvent]  # each model's last epoch (for the fine-tune: its choice's)
    before: dict[str, Figures]
    after: dict[str, Figures]
    evaluations: dict[str, Evaluation]  # on MNIST validation: accuracy, confusion, mistakes
    choices: dict[str, FineTuneChoice]
    stopped: bool
    seconds: float


def figures(model, data: MNIST, held: Digits | None, evaluation: Evaluation | None = None) -> Figures:
    """``evaluation``: the model's, when it has one already (the validation digits are not run twice).
    Without, ``evaluate`` leaves the model in training mode, as a starting model must stay."""
    valid = evaluation.accuracy if evaluation is not None else \
        evaluate(model, *as_tensors(data, torch.device("cpu"))[2:])[1]
    return Figures(valid, evaluate_digits(model, held) if held is not None and len(held) else None)


def drive(plan: Plan, data: MNIST, starts: dict, stop: threading.Event, place) -> Iterator[Begun | Progress | Outcome]:
    """Train each model of ``plan`` in turn from ``starts``, until done or ``stop`` is set.
    ``place``: gpu.placement's answer, which runs each model's training here or on ZeroGPU."""
    eta = Eta(dict.fromkeys(plan.names, plan.steps(data)))
    with_held = plan.held is not None and len(plan.held) > 0
    trained, last, before, choices = {}, {}, {}, {}
    start = time.perf_counter()
    for name in plan.names:
        model = starts[name]
        if plan.start_from != NEW or with_held:  # where it starts: epoch 0 on the curves
            before[name] = figures(model, data, plan.held)
        yield Begun(name, before.get(name))
        run = place.training(name, model, plan.config, plan.own, plan.held, plan.adaptive)
        for event in run:
            eta.add(event)
            if isinstance(event, EpochEvent):
                last[name] = event
            yield Progress(event, eta)
            if stop.is_set():
                break
        model, choice = run.finish()  # stopped or not: the trained model, on the CPU
        if choice is not None:  # the fine-tune's: the best weights within 1 point on MNIST, or the start
            choices[name] = choice
            last[name] = choice.event(last[name].elapsed if name in last else 0.0)
        eta.finish(name)
        trained[name] = model
        if stop.is_set():
            break
    evaluations = {n: evaluate_model(m, data) for n, m in trained.items()}
    after = {n: figures(m, data, plan.held, evaluations[n]) for n, m in trained.items()}
    yield Outcome(trained, last, before, after, evaluations, choices, stop.is_set(), time.perf_counter() - start)
