"""Fine-tuning on a visitor's own digits that adapts to them: how much of them to mix in and for
how long is decided by the run itself, within a budget of at most 1 point lost on MNIST.

A fixed share of the visitor's digits per epoch is right only for the handwriting it was measured
on: a style far from MNIST needs more of it, one close to MNIST less. ``adaptive_finetune`` trains
in stages of one epoch each, continuing from the previous stage, with a rising share of the
visitor's digits (``SHARES``: 10 % → 20 % → 30 %), each checkpoint also tried blended with the
starting weights (``BLENDS``). After each stage it measures their held-out digits and MNIST
validation (a fixed tenth of it, to stay fast).
At the end it picks the checkpoint that reads the held-out digits best among those within the
budget, confirms it on all 20,000 validation digits, and leaves the model there. When none
qualifies, the starting weights come back, and its sentence says so.

    run = adaptive_finetune(model, data, cfg, own, own_held)
    for event in run:          # train()'s StepEvent/EpochEvent, numbered as one run
        ...
    run.choice.sentence()      # what it chose, for the app's verdict and the command line

``benchmarks/own_digits.py`` measures it over a battery of handwriting styles.
"""

from __future__ import annotations

import copy
import dataclasses
import time
from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch import nn

from .collection import Digits
from .data import MNIST
from .evaluation import evaluate
from .models import architecture
from .presets import TrainConfig, check_config
from .training import EpochEvent, OwnMix, StepEvent, as_tensors, own_repeats, resolve_device, train

SHARES = (0.1, 0.2, 0.3)  # the visitor's share of each stage's rows, one epoch per stage
MAX_MNIST_LOSS = 0.01  # at most 1 point of MNIST validation accuracy lost, on all 20,000
SUBSET_MARGIN = 0.002  # a stage qualifies on the subset with this much to spare
BLENDS = (0.75, 0.5, 0.25)  # each checkpoint is also tried this far from the starting weights
FULL_CHECKS = 3  # candidates checked on all of validation before giving up and keeping the start
VALID_EVERY = 10  # the subset measured after each stage: every 10th validation digit (2,000)


@dataclass(frozen=True)
class Stage:
    """One candidate: a stage's checkpoint, or its blend with the starting weights, as measured."""

    share: float
    epochs: int  # stages done from the start, this one's included
    blend: float  # 1: the checkpoint itself; 0.5: halfway back to the starting weights
    held_acc: float  # on the held-out digits (or the training ones, when none is held out)
    held_loss: float
    subset_acc: float  # MNIST validation, the fixed subset


@dataclass(frozen=True)
class FineTuneChoice:
    """What the adaptive fine-tune chose and what it measured."""

    model: str
    share: float | None  # the chosen checkpoint's last share; None: the starting weights
    stages: int  # stages behind the chosen checkpoint (0: the starting weights)
    blend: float  # how far from the starting weights towards that checkpoint (1: all the way)
    mnist_rows: int  # MNIST digits per stage
    held: int  # digits the choice was judged on
    judged_on: str  # "held-out" or "training" (when nothing is held out)
    held_before: float
    held_after: float
    valid_before: float  # all of MNIST validation
    valid_after: float
    valid_loss_after: float
    subset_before: float  # the starting weights on the validation subset that the stages are measured on
    tried: tuple[Stage, ...]
    seconds: float

    @property
    def kept_start(self) -> bool:
        return self.share is None

    def sentence(self) -> str:
        tried = ", ".join(f"{s.share:.0%}" for s in self.tried if s.blend == 1) or "none"
        digits = f"your {self.held} {self.judged_on} digits"
        if self.kept_start:
            return (f"The adaptive fine-tune tried shares {tried} of your digits, but no step kept MNIST "
                    f"validation within 1 point of the start ({self.valid_before:.2%}) while helping {digits}: "
                    "the starting weights are returned unchanged")
        blend = "" if self.blend == 1 else f", blended {self.blend:.0%} of the way from the starting weights"
        return (f"The adaptive fine-tune chose {self.stages} step{'s' * (self.stages > 1)} of "
                f"{self.mnist_rows:,} MNIST digits, rising to a {self.share:.0%} share of your digits{blend} "
                f"(tried {tried}): {digits} {self.held_before:.0%} → {self.held_after:.0%}, MNIST validation "
                f"{self.valid_before:.2%} → {self.valid_after:.2%}")

    def metadata(self) -> dict[str, str]:
        return {"adaptive_fine_tune": self.sentence(),
                "adaptive_share": "start" if self.kept_start else f"{self.share:g}",
                "adaptive_steps": str(self.stages), "adaptive_blend": f"{self.blend:g}",
                "adaptive_valid_before": f"{self.valid_before:.6f}",
                "adaptive_valid_after": f"{self.valid_after:.6f}",
                "adaptive_held_before": f"{self.held_before:.6f}",
                "adaptive_held_after": f"{self.held_after:.6f}"}

    def event(self, elapsed: float) -> EpochEvent:
        """The chosen weights as the run's last EpochEvent (all of validation), for its metadata."""
        return EpochEvent(self.model, max(self.stages - 1, 0), len({s.epochs for s in self.tried}),
                          self.valid_loss_after, self.valid_after, elapsed, 0.0,
                          self.held_after if self.judged_on == "held-out" else None)


def stage_rows(cfg: TrainConfig, data: MNIST, shares=SHARES) -> int:
    """MNIST digits per stage: the recipe's digits spread over the stages (at least 2,000 each)."""
    total = min(len(data.x_train), cfg.limit or len(data.x_train))
    return min(len(data.x_train) // len(shares), max(2000, total // 2))


def stage_steps(data: MNIST, cfg: TrainConfig, own: Digits, shares=SHARES) -> int:
    """Training steps of a whole adaptive run (each stage: one epoch at its share)."""
    rows = stage_rows(cfg, data, shares)
    return sum(-(-OwnMix(rows, len(own), own_repeats(rows, len(own), s)).rows // cfg.batch_size) for s in shares)


def subset(data: MNIST) -> MNIST:
    """``data`` with a fixed tenth of its validation split, for the stages' quick checks."""
    return dataclasses.replace(data, x_valid=data.x_valid[::VALID_EVERY], y_valid=data.y_valid[::VALID_EVERY])


def blended(start: dict, end: dict, blend: float) -> dict:
    """The weights ``blend`` of the way from ``start`` to ``end`` (a straight line between them)."""
    return {k: start[k] + blend * (end[k] - start[k]) if end[k].is_floating_point() else end[k] for k in end}


class AdaptiveFineTune:
    """Iterate it for train()'s events; afterwards ``choice`` says what was kept. A run stopped
    early calls ``finish()`` to pick among the stages done so far."""

    def __init__(self, model: nn.Module, data: MNIST, cfg: TrainConfig, own: Digits,
                 own_held: Digits | None = None, shares: tuple[float, ...] = SHARES):
        check_config(cfg)
        if own is None or not len(own):
            raise ValueError("the adaptive fine-tune needs some of your digits to train on")
        self.model, self.data, self.cfg, self.own, self.shares = model, data, cfg, own, tuple(shares)
        self.own_held = own_held if own_held is not None and len(own_held) else None
        self.judge = self.own_held if self.own_held is not None else own
        self.choice: FineTuneChoice | None = None
        self.tried: list[Stage] = []
        self.states: list[dict] = []  # each stage's checkpoint
        self.rows = stage_rows(cfg, data, self.shares)
        self.total_steps = stage_steps(data, cfg, own, self.shares)
        self._quick = subset(data)
        self._start_state: dict | None = None
        self._before: tuple[float, float, float, tuple[float, float]] | None = None
        self._t0 = 0.0

    def _measure(self) -> tuple[float, float, float]:
        """(accuracy, loss) on the judged digits and accuracy on the validation subset."""
        device = next(self.model.parameters()).device
        held_loss, held_acc = evaluate(self.model, torch.from_numpy(self.judge.x).to(device),
                                       torch.from_numpy(self.judge.y).to(device))
        x_valid, y_valid = as_tensors(self._quick, device)[2:]
        return held_acc, held_loss, evaluate(self.model, x_valid, y_valid)[1]

    def _full_valid(self) -> tuple[float, float]:
        """(loss, accuracy) on all of MNIST validation."""
        x_valid, y_valid = as_tensors(self.data, next(self.model.parameters()).device)[2:]
        return evaluate(self.model, x_valid, y_valid)

    def __iter__(self) -> Iterator[StepEvent | EpochEvent]:
        self._t0 = time.perf_counter()
        self.model.to(resolve_device(self.cfg.device))
        self._start_state = copy.deepcopy(self.model.state_dict())
        self._before = (*self._measure(), self._full_valid())
        offset, steps_before = 0.0, 0  # the time and steps of the stages done
        for k, share in enumerate(self.shares):
            # Each stage its own MNIST digits (the training split's next slice), one epoch.
            part = dataclasses.replace(self._quick, x_train=self.data.x_train[k * self.rows:(k + 1) * self.rows],
                                       y_train=self.data.y_train[k * self.rows:(k + 1) * self.rows])
            cfg = dataclasses.replace(self.cfg, own_share=share, epochs=1, limit=None, seed=self.cfg.seed + k,
                                      target_acc=None)
            for event in train(self.model, part, cfg, self.own, self.own_held):
                # One run to whoever watches: stages numbered as epochs, time and steps counted from
                # the first (the stages differ in length: each has more of the visitor's digits).
                last = event
                if isinstance(event, StepEvent):
                    stage_done = event.steps_done
                    yield dataclasses.replace(event, epoch=k, elapsed=offset + event.elapsed,
                                              steps_done=steps_before + event.steps_done)
                else:
                    yield dataclasses.replace(event, epoch=k, elapsed=offset + event.elapsed, epochs=len(self.shares))
            offset += last.elapsed
            steps_before += stage_done
            self.states.append(copy.deepcopy(self.model.state_dict()))
            self.tried.append(Stage(share, k + 1, 1.0, *self._measure()))
            if self._before[2] - self.tried[-1].subset_acc > 2 * MAX_MNIST_LOSS:  # more would only forget more
                break
        self.finish()

    def _candidates(self) -> list[tuple[Stage, dict]]:
        """Every checkpoint, and its blends with the starting weights, each measured."""
        out = []
        for stage, state in zip([s for s in self.tried if s.blend == 1], self.states, strict=True):
            out.append((stage, state))
            for blend in BLENDS:
                mixed = blended(self._start_state, state, blend)
                self.model.load_state_dict(mixed)
                measured = Stage(stage.share, stage.epochs, blend, *self._measure())
                self.tried.append(measured)
                out.append((measured, mixed))
        return out

    def finish(self) -> FineTuneChoice:
        """Load the best qualifying weights (or the starting ones) and record the choice."""
        if self.choice is not None:
            return self.choice
        if self._start_state is None:
            raise RuntimeError("finish() before the run started")
        held0, loss0, sub0, (valid_loss0, full0) = self._before
        key = lambda c: (c[0].held_acc, -c[0].held_loss)  # noqa: E731
        ranked = sorted((c for c in self._candidates()
                         if sub0 - c[0].subset_acc <= MAX_MNIST_LOSS - SUBSET_MARGIN and key(c) > (held0, -loss0)),
                        key=key, reverse=True)
        chosen, (valid_loss, full) = None, (valid_loss0, full0)
        for stage, state in ranked[:FULL_CHECKS]:  # the final word: all 20,000 validation digits
            self.model.load_state_dict(state)
            valid_loss, full = self._full_valid()
            if full0 - full <= MAX_MNIST_LOSS:
                chosen = stage
                break
        if chosen is None:
            self.model.load_state_dict(self._start_state)
            valid_loss, full = valid_loss0, full0
        self.model.eval()
        self.choice = FineTuneChoice(
            model=architecture(self.model)["model"], share=chosen.share if chosen else None,
            stages=chosen.epochs if chosen else 0, blend=chosen.blend if chosen else 0.0, mnist_rows=self.rows,
            held=len(self.judge), judged_on="held-out" if self.own_held is not None else "training",
            held_before=held0, held_after=chosen.held_acc if chosen else held0, valid_before=full0,
            valid_after=full, valid_loss_after=valid_loss, subset_before=sub0, tried=tuple(self.tried),
            seconds=time.perf_counter() - self._t0)
        self.states.clear()  # the checkpoints are no longer needed
        return self.choice


def fine_tunes(trained_start: bool, own: Digits | None) -> bool:
    """The rule, the same on every path (the command line, the Train tab, the class): a run that
    starts from trained weights with own digits fine-tunes adaptively; from new weights, own digits
    are simply mixed into a training."""
    return trained_start and own is not None


def adaptive_finetune(model: nn.Module, data: MNIST, cfg: TrainConfig, own: Digits,
                      own_held: Digits | None = None, shares: tuple[float, ...] = SHARES) -> AdaptiveFineTune:
    """The adaptive fine-tune of ``model`` on the visitor's digits ``own`` (judged on ``own_held``):
    iterate it for the events, then read ``.choice``. See the module's docstring."""
    return AdaptiveFineTune(model, data, cfg, own, own_held, shares)
