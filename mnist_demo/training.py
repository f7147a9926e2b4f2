"""One training loop for the command line and the app.

``train(model, data, config)`` is a generator: it yields a ``StepEvent`` every few steps and an
``EpochEvent`` after each epoch's validation, so a UI can stream the curves and stop the run
between two events simply by no longer iterating (the model keeps what it has learned so far).

Speed on a small CPU comes from keeping the whole dataset as in-memory tensors and taking
shuffled index slices of it (no DataLoader, whose per-batch collation costs more than this tiny
CNN's step), from validating in large batches under ``torch.inference_mode()`` and from a fused
Adam; ``benchmarks/train_speed.py`` measures it against the tutorial's own loop.

The recipes (``TrainConfig``, ``PRESETS``) are in presets.py, and the command line that runs this
loop is train.py (``python -m mnist_demo.train``): no module imports an entry point, so each class
here exists once per process, whichever way the process was started.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .collection import Digits
from .data import MNIST
from .evaluation import evaluate, evaluate_digits
from .models import architecture, build_model
from .presets import AUGMENTATION, ONE_CYCLE, OPTIMIZER_OPTIONS, TrainConfig, check_config, reached_target


def resolve_device(name: str) -> torch.device:
    return torch.device("cuda" if name == "auto" and torch.cuda.is_available() else
                        "cpu" if name == "auto" else name)


@dataclass(frozen=True)
class StepEvent:
    model: str
    epoch: int  # 0-based, as the tutorial prints it
    step: int  # steps done in this epoch
    steps_per_epoch: int
    train_loss: float  # mean over the steps since the last StepEvent
    elapsed: float  # seconds since training started
    # Steps done in the whole run, every epoch so far (every stage, in an adaptive fine-tune): a
    # progress bar's count. Not epoch * steps_per_epoch + step: the fine-tune's stages differ in length.
    steps_done: int


@dataclass(frozen=True)
class EpochEvent:
    model: str
    epoch: int
    epochs: int
    valid_loss: float
    valid_acc: float  # fraction in [0, 1]
    elapsed: float
    samples_per_sec: float  # training throughput of this epoch
    own_held_acc: float | None = None  # accuracy on the visitor's held-out own digits, when there are some


def new_model(name: str, cfg: TrainConfig) -> nn.Module:
    """A freshly initialised model; the same seed always gives the same weights."""
    with torch.random.fork_rng(devices=[]):  # leave the caller's global RNG alone
        torch.manual_seed(cfg.seed)
        model = build_model(name, final_relu=cfg.final_relu)
    if name == "cnn" and cfg.class_bias_init is not None:
        # With the final ReLU, a class whose conv3 output starts negative everywhere is dead
        # (zero output, zero gradient). A positive start keeps every class alive.
        with torch.no_grad():
            model.conv3.bias.fill_(cfg.class_bias_init)
    return model


def as_tensors(data: MNIST, device: torch.device, limit: int | None = None):
    """The split as tensors on ``device``; on the CPU they share memory with the numpy arrays."""
    with warnings.catch_warnings():  # the arrays are read-only on purpose; we never write to them
        warnings.simplefilter("ignore", UserWarning)
        xs = [torch.from_numpy(a) for a in (data.x_train[:limit], data.y_train[:limit],
                                            data.x_valid, data.y_valid)]
    return [t.to(device) for t in xs]


def augment_batch(xb: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Random small affine moves and stroke-thickness changes, as drawn digits vary."""
    n = len(xb)
    img = xb.view(n, 1, 28, 28)
    u = torch.rand(n, 5, generator=gen, device="cpu").to(xb.device) * 2 - 1  # in [-1, 1)
    a = AUGMENTATION  # presets.json's, which the page's augment.js reads too
    angle, scale = u[:, 0] * math.radians(a["max_degrees"]), 1 + a["max_scale"] * u[:, 1]
    shift = u[:, 2:4] * (a["max_shift_pixels"] * 2 / 28)  # in affine_grid's [-1, 1] units
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack([torch.stack([cos, -sin, shift[:, 0]], 1),
                         torch.stack([sin, cos, shift[:, 1]], 1)], 1)
    grid = F.affine_grid(theta, img.shape, align_corners=False)
    img = F.grid_sample(img, grid, align_corners=False, padding_mode="zeros")
    # Thickness: blend towards a dilated (t > 0) or an eroded (t < 0) copy.
    t = (u[:, 4] * a["thickness"][0] + a["thickness"][1]).view(n, 1, 1, 1)  # mostly thicker: drawn strokes are bold
    dilated = F.max_pool2d(img, 3, 1, 1)
    eroded = -F.max_pool2d(-img, 3, 1, 1)
    img = torch.where(t > 0, img + t * (dilated - img), img + (-t) * (eroded - img))
    return img.reshape(xb.shape)


def own_repeats(mnist_rows: int, own_digits: int, share: float) -> int:
    """How many times each of the visitor's digits appears per epoch, so that they make up
    ``share`` of its rows: 40 drawings among 50,000 MNIST digits would otherwise never matter."""
    if not own_digits or share <= 0:
        return 0
    return max(1, round(share / (1 - share) * mnist_rows / own_digits))


@dataclass(frozen=True)
class OwnMix:
    """One epoch's rows: the first ``limit`` MNIST digits, then each of the visitor's own digits
    ``repeats`` times. Worked out once here for the step count, the loop and the metadata."""

    mnist: int
    own: int
    repeats: int

    @classmethod
    def of(cls, data: MNIST, cfg: TrainConfig, own: Digits | None) -> OwnMix:
        mnist, n_own = len(data.x_train[:cfg.limit]), len(own) if own is not None else 0
        return cls(mnist, n_own, own_repeats(mnist, n_own, cfg.own_share))

    @property
    def rows(self) -> int:
        return self.mnist + self.own * self.repeats


def steps_per_epoch(data: MNIST, cfg: TrainConfig, own: Digits | None = None) -> int:
    """The last, partial batch is kept, as the tutorial's DataLoader does."""
    return math.ceil(OwnMix.of(data, cfg, own).rows / cfg.batch_size)


def run_metadata(cfg: TrainConfig, preset: str, data: MNIST, last: EpochEvent | None, start: str = "new weights",
                 own: Digits | None = None, own_held: Digits | None = None) -> dict[str, str]:
    """What a weights file says about the training that made it (CLI and app alike): its recipe,
    data, result, what it started from and whether the visitor's own digits were in it."""
    mix = OwnMix.of(data, cfg, own)
    meta = {
        "preset": preset, "config": json.dumps(dataclasses.asdict(cfg)),
        "split": f"train {mix.mnist} of {len(data.x_train)} / valid {len(data.x_valid)} "
                 "(tutorial split, pixels/256)",
        "data_source": data.source if data.source.startswith("openml") else
                       "MNIST IDX files (the same rows as openml:mnist_784)",
    }
    if start != "new weights":
        meta["started_from"] = start
    if mix.own:
        meta["own_digits"] = (f"{mix.own} kept digits, each {mix.repeats}x per epoch (augmented); "
                              f"{len(own_held) if own_held is not None else 0} held out")
    if last is not None and last.own_held_acc is not None:
        meta["own_held_out_acc"] = f"{last.own_held_acc:.6f}"
    if last is not None:  # a run stopped before its first epoch ended has no validation yet
        meta.update(valid_loss=f"{last.valid_loss:.6f}", valid_acc=f"{last.valid_acc:.6f}",
                    epochs_done=str(last.epoch + 1), train_seconds=f"{last.elapsed:.1f}")
    return meta


def optimizer_for(model: nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    """The optimizer with presets.json's options (torch's defaults, written out), which the page's
    optim.js follows too."""
    options = OPTIMIZER_OPTIONS[cfg.optimizer]
    if cfg.optimizer == "adam":
        # fused=True: one kernel for all parameters instead of a Python loop over them.
        return torch.optim.Adam(model.parameters(), lr=cfg.lr, betas=tuple(options["betas"]), eps=options["eps"],
                                weight_decay=options["weight_decay"], fused=True)
    return torch.optim.SGD(model.parameters(), lr=cfg.lr, **options)


def scheduler_for(opt: torch.optim.Optimizer, cfg: TrainConfig, total_steps: int):
    """One-cycle as presets.json describes it (the page's optim.js computes the same), or None."""
    if cfg.schedule != "onecycle":
        return None
    return torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=total_steps, **ONE_CYCLE)


def train(model: nn.Module, data: MNIST, cfg: TrainConfig, own: Digits | None = None,
          own_held: Digits | None = None) -> Iterator[StepEvent | EpochEvent]:
    """Train ``model`` in place under ``cfg``, yielding progress events. ``own``: the visitor's
    own digits, mixed into every epoch (``cfg.own_share`` of its rows) and always augmented;
    ``own_held``: their held-out digits, only measured (``EpochEvent.own_held_acc``)."""
    check_config(cfg)
    name = architecture(model)["model"]
    device = resolve_device(cfg.device)
    model.to(device).train()
    x_train, y_train, x_valid, y_valid = as_tensors(data, device, cfg.limit)
    mix = OwnMix.of(data, cfg, own)
    if mix.repeats:
        x_train = torch.cat([x_train, torch.from_numpy(own.x).to(device).repeat(mix.repeats, 1)])
        y_train = torch.cat([y_train, torch.from_numpy(own.y).to(device).repeat(mix.repeats)])
    steps = math.ceil(mix.rows / cfg.batch_size)
    opt = optimizer_for(model, cfg)
    sched = scheduler_for(opt, cfg, cfg.epochs * steps)
    gen = torch.Generator().manual_seed(cfg.seed)  # shuffling and augmentation, on the CPU
    start = time.perf_counter()
    for epoch in range(cfg.epochs):
        epoch_start = time.perf_counter()
        perm = torch.randperm(mix.rows, generator=gen).to(device)
        running, since = torch.zeros((), device=device), 0
        for step in range(steps):
            idx = perm[step * cfg.batch_size:(step + 1) * cfg.batch_size]
            xb, yb = x_train[idx], y_train[idx]
            if cfg.augment:
                xb = augment_batch(xb, gen)
            elif mix.repeats:  # the visitor's digits are always augmented: a few drawings, many views
                is_own = idx >= mix.mnist
                if is_own.any():
                    xb = xb.clone()
                    xb[is_own] = augment_batch(xb[is_own], gen)
            loss = F.cross_entropy(model(xb), yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if sched is not None:
                sched.step()
            running += loss.detach()  # no .item() here: it would sync a GPU every step
            since += 1
            if since == cfg.log_every or step == steps - 1:
                yield StepEvent(name, epoch, step + 1, steps, running.item() / since,
                                time.perf_counter() - start, epoch * steps + step + 1)
                running.zero_()
                since = 0
        train_seconds = time.perf_counter() - epoch_start
        valid_loss, valid_acc = evaluate(model, x_valid, y_valid)
        held_acc = evaluate_digits(model, own_held) if own_held is not None and len(own_held) else None
        yield EpochEvent(name, epoch, cfg.epochs, valid_loss, valid_acc,
                         time.perf_counter() - start, mix.rows / train_seconds, held_acc)
        if reached_target(cfg, valid_acc):
            break
    model.eval()

