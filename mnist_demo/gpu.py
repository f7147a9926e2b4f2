"""Where a training runs, and for how long it may hold a GPU: the app's one link to ZeroGPU.

On a Hugging Face Space with ZeroGPU hardware, a GPU is lent only to a function decorated
``@spaces.GPU(duration=...)``, for at most ``duration`` seconds, and that function runs in a forked
worker process: its arguments and what it yields are pickled across, and the Space's own process
never holds CUDA. Each visitor has a daily quota of GPU time, and ZeroGPU refuses a call whose
``duration`` is more than the visitor has left. Elsewhere the decorator returns the function
unchanged, so the same code trains in process on a laptop, a CPU Space or a GPU machine.

So a training here is one generator, ``train_job``: it trains one model (on CUDA where there is
one), yields train()'s events, and last the trained model, back on the CPU (the page and the
safetensors writer need CPU tensors), with the adaptive fine-tune's choice. ``on_gpu`` is that
generator under ``@spaces.GPU``. ``placement`` decides which of the two a visitor's run uses and
how many seconds each model asks for, from the recipe's size, and refuses on ZeroGPU a run that
could need more than a visitor's daily quota. ``Training`` is the app's handle on one model's run.
Stop reaches the worker through a file (``StopFlag``): a threading.Event in the visitor's session
cannot cross into another process.
"""

from __future__ import annotations

import dataclasses
import math
import os
import tempfile
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import spaces  # ZeroGPU's decorator: a no-op unless SPACES_ZERO_GPU is true (before torch, as ZeroGPU asks)
from torch import nn

from .collection import Digits
from .data import MNIST, MnistSource
from .finetune import BLENDS, FULL_CHECKS, SHARES, VALID_EVERY, FineTuneChoice, adaptive_finetune, stage_steps
from .models import MODEL_TITLES
from .presets import TrainConfig
from .training import EpochEvent, OwnMix, StepEvent, resolve_device, train

# A visitor's daily ZeroGPU quota in seconds of GPU time, from the Hub's documentation
# (https://huggingface.co/docs/hub/spaces-zerogpu, "Usage Tiers": 2 minutes unauthenticated,
# 3.5 minutes with a free account; PRO accounts get more). Unauthenticated quotas are counted per
# IP address, so a class behind one school router shares one. The app cannot tell whether a
# visitor is logged in, so its rule uses the smaller figure.
QUOTA_SECONDS = {"unauthenticated": 120, "free account": 210}
DAILY_QUOTA = QUOTA_SECONDS["unauthenticated"]
# The most one call may ask for: ZeroGPU refuses longer durations as "illegal" (5 minutes, said
# by its maintainers: huggingface.co/spaces/zero-gpu-explorers/README/discussions/7).
MAX_DURATION = 300

# What one model's training costs, in seconds: a training step (the Python loop, the kernels'
# launches), a training digit, and a digit measured (validation, the held-out digits). Measured
# by `python -m benchmarks.training_cost` on the 2-core development machine, one torch thread (as
# the app trains there): the larger of two quiet runs, each of which predicted recipes it was not
# fitted on within 0.7-1.08x. No GPU figure exists yet, so these CPU ones stand in: a GPU should
# do the CNN's digits far faster, while the linear model's steps, bound by the Python loop and the
# kernels' launches there, cost about the same. Rerun it with --device cuda on a GPU to replace
# them.
COSTS = {"linear": (0.00061, 5.4e-06, 1.7e-06), "cnn": (0.0029, 0.00012, 6.5e-05)}
MARGIN = 1.5  # a busy machine runs 2-3x slower than these quiet figures; a GPU's may be worse for some steps
START_SECONDS = 20  # a ZeroGPU call forks a worker, starts CUDA and copies MNIST to the GPU first

# What a ZeroGPU Space may run (README.md's python_version, requirements.txt's torch), as Hugging
# Face's own Spaces guide lists them (github.com/huggingface/skills, skills/huggingface-spaces/SKILL.md:
# "ZeroGPU officially supports 3.10.13 and 3.12.12", "ZeroGPU only accepts torch 2.8.0, 2.9.1,
# 2.10.0, 2.11.0"); the Hub's page says Python 3.10.13 and "almost all" torch from 2.1.0 on.
ZEROGPU_PYTHONS = ("3.10", "3.12")
ZEROGPU_TORCHES = ("2.8.0", "2.9.1", "2.10.0", "2.11.0")


# ---------------------------------------------------------------------------- how long


@dataclass(frozen=True)
class Work:
    """What one model's training does: steps, training digits, digits measured."""

    steps: int
    digits: int
    checked: int

    def seconds(self, name: str) -> float:
        step, digit, check = COSTS[name]
        return self.steps * step + self.digits * digit + self.checked * check


def work(data: MNIST, cfg: TrainConfig, own: Digits | None = None, own_held: Digits | None = None,
         adaptive: bool = False) -> Work:
    """The most a training of ``cfg`` can do (a target accuracy may end it sooner)."""
    held = len(own_held) if own_held is not None else 0
    valid = len(data.x_valid)
    if adaptive:  # finetune.py: a stage per share, each checkpoint and its blends measured, then full checks
        steps = stage_steps(data, cfg, own)
        judged = held or len(own)
        quick = len(SHARES) * (1 + len(BLENDS)) * (math.ceil(valid / VALID_EVERY) + judged)
        return Work(steps, steps * cfg.batch_size, (1 + FULL_CHECKS) * valid + quick + judged)
    rows = OwnMix.of(data, cfg, own).rows
    return Work(cfg.epochs * math.ceil(rows / cfg.batch_size), cfg.epochs * rows, cfg.epochs * (valid + held))


def gpu_seconds(name: str, job: Work) -> float:
    """The seconds one model's ZeroGPU call may take, margin and start included, not yet capped."""
    return START_SECONDS + MARGIN * job.seconds(name)


def duration(seconds: float) -> int:
    """What a call asks ZeroGPU for: whole seconds, at most what ZeroGPU allows."""
    return min(MAX_DURATION, math.ceil(seconds))


# ---------------------------------------------------------------------------- where


@dataclass(frozen=True)
class Placement:
    """Where a visitor's run trains: "zerogpu" (each model in its own GPU call, asking for
    ``seconds[name]``), "here" (off ZeroGPU: as always, CUDA when the machine has one), or nowhere:
    "refused", when on ZeroGPU it could need more GPU time than a visitor has in a day; ``refusal``
    then says so. Not the CPU instead: in a ZeroGPU Space's own process torch claims CUDA is there
    (spaces patches it), and training there reaches for it (Adam's step checks for CUDA graph
    capture), so every training goes to the GPU worker or does not start. ``mnist``: where each
    training loads MNIST (in ZeroGPU's worker too: it is pickled across)."""

    where: str
    seconds: dict[str, int]
    mnist: MnistSource
    refusal: str = ""

    def training(self, name: str, model: nn.Module, cfg: TrainConfig, own: Digits | None = None,
                 own_held: Digits | None = None, adaptive: bool = False) -> Training:
        if self.where == "refused":
            raise ValueError(self.refusal)
        return Training(self.seconds[name], model, cfg, self.mnist, own, own_held, adaptive,
                        gpu=self.where == "zerogpu")


def placement(names: Sequence[str], data: MNIST, cfg: TrainConfig, own: Digits | None = None,
              own_held: Digits | None = None, adaptive: bool = False, *, zero_gpu: bool,
              mnist: MnistSource) -> Placement:
    """Decide once for the whole run, since its models' calls draw on the same quota. ``zero_gpu``
    and ``mnist``: the host's (Settings.zero_gpu, Settings.mnist); ``data`` is what ``mnist`` loads."""
    seconds = {n: duration(gpu_seconds(n, work(data, cfg, own, own_held, adaptive))) for n in names}
    if not zero_gpu:
        return Placement("here", seconds, mnist)
    total = run_seconds(names, data, cfg, own, own_held, adaptive)
    if total <= DAILY_QUOTA:
        return Placement("zerogpu", seconds, mnist)
    fit = [e for e in range(1, cfg.epochs) if run_seconds(names, data, dataclasses.replace(cfg, epochs=e), own,
                                                           own_held, adaptive) <= DAILY_QUOTA]
    what = " and ".join(MODEL_TITLES[n] for n in names)
    return Placement("refused", seconds, mnist, (
        f"This training ({what}) could need up to {total:.0f} s of GPU time, more than the "
        f"{QUOTA_SECONDS['unauthenticated']} s a day that ZeroGPU lends a visitor who is not logged in "
        f"({QUOTA_SECONDS['free account']} s with a free Hugging Face account), so it was not started. "
        + (f"Up to {fit[-1]} epoch{'s' * (fit[-1] > 1)} of it fit." if fit and not adaptive else
           "Fewer training digits, or one model at a time, fit.")))


def run_seconds(names: Sequence[str], data: MNIST, cfg: TrainConfig, own: Digits | None = None,
                own_held: Digits | None = None, adaptive: bool = False) -> float:
    """The GPU time a whole run may take: its models' calls, uncapped."""
    return sum(gpu_seconds(n, work(data, cfg, own, own_held, adaptive)) for n in names)


# ---------------------------------------------------------------------------- the job


class StopFlag:
    """Stop, seen across processes: a file that exists once ``set()`` is called. Only its path is
    pickled into ZeroGPU's worker."""

    def __init__(self, path: str | None = None):
        self.path = path or os.path.join(tempfile.gettempdir(), f"mnist-stop-{uuid.uuid4().hex}")

    def set(self) -> None:
        open(self.path, "w").close()

    def is_set(self) -> bool:
        return os.path.exists(self.path)

    def remove(self) -> None:
        try:
            os.remove(self.path)
        except FileNotFoundError:
            pass


@dataclass(frozen=True)
class Done:
    """The last item of a job: the trained model on the CPU, and the adaptive fine-tune's choice."""

    model: nn.Module
    choice: FineTuneChoice | None


def train_job(seconds: int, model: nn.Module, cfg: TrainConfig, own: Digits | None, own_held: Digits | None,
              adaptive: bool, stop_path: str, mnist: MnistSource) -> Iterator[StepEvent | EpochEvent | Done]:
    """Train ``model`` where ``cfg.device`` says (auto: CUDA when present), yielding train()'s
    events, then ``Done``. A stop is checked after each event, so a run stopped at an event keeps
    exactly what it had then. ``seconds`` is only read by ZeroGPU (the call's duration)."""
    data = mnist.load()  # the app loaded it before: its cache, inherited by ZeroGPU's forked worker
    model.to(resolve_device(cfg.device))
    stop = StopFlag(stop_path)
    run = adaptive_finetune(model, data, cfg, own, own_held) if adaptive else None
    for event in run or train(model, data, cfg, own, own_held):
        yield event
        if stop.is_set():
            break
    choice = run.finish() if run is not None else None  # stopped or not: the best checkpoint, or the start
    yield Done(model.to("cpu").eval(), choice)


on_gpu = spaces.GPU(duration=lambda seconds, *args: seconds)(train_job)


class Training:
    """One model's training, the app's side: iterate it for the events; ``finish()`` stops it if it
    is still going and returns the trained model (on the CPU) and the fine-tune's choice. On
    ZeroGPU the model trained is the worker's copy, so use the one ``finish()`` returns."""

    def __init__(self, seconds: int, model: nn.Module, cfg: TrainConfig, mnist: MnistSource, own: Digits | None = None,
                 own_held: Digits | None = None, adaptive: bool = False, gpu: bool = False):
        self.stop = StopFlag()
        self.items = (on_gpu if gpu else train_job)(seconds, model, cfg, own, own_held, adaptive, self.stop.path,
                                                    mnist)
        self.done: Done | None = None

    def __iter__(self) -> Iterator[StepEvent | EpochEvent]:
        for item in self.items:
            if isinstance(item, Done):
                self.done = item
                return
            yield item

    def finish(self) -> tuple[nn.Module, FineTuneChoice | None]:
        try:
            if self.done is None:
                self.stop.set()  # the job ends at its next event; what it yields until then is dropped
                for item in self.items:
                    if isinstance(item, Done):
                        self.done = item
            if self.done is None:
                raise RuntimeError("the training ended without returning its model")
            return self.done.model, self.done.choice
        finally:
            self.stop.remove()
