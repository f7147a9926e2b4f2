"""One training loop for the command line and the app.

``train(model, data, config)`` is a generator: it yields a ``StepEvent`` every few steps and an
``EpochEvent`` after each epoch's validation, so a UI can stream the curves and stop the run
between two events simply by no longer iterating (the model keeps what it has learned so far).

Speed on a small CPU comes from keeping the whole dataset as in-memory tensors and taking
shuffled index slices of it (no DataLoader, whose per-batch collation costs more than this tiny
CNN's step), from validating in large batches under ``torch.inference_mode()`` and from a fused
Adam; ``benchmarks/train_speed.py`` measures it against the tutorial's own loop.

    python -m mnist_demo.train --model both --preset one-cycle --out weights
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from .collection import Digits
from .data import MNIST, DataError, load_mnist
from .evaluation import evaluate, evaluate_digits
from .models import MODEL_NAMES, architecture, build_model

OPTIMIZERS = ("adam", "sgd")
SCHEDULES = ("constant", "onecycle")
DEVICES = ("auto", "cpu", "cuda")


@dataclass(frozen=True)
class Setting:
    """What one TrainConfig field accepts and how it is explained, read by ``check_config``, the
    command line's options and the Train tab's controls alike. ``low``/``high`` bound a number
    (None values are always allowed: they mean "off"); ``step`` is the controls' step."""

    help: str
    label: str = ""
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] = ()
    step: float | None = None


def setting(default, help: str, **kw):
    return dataclasses.field(default=default, metadata={"setting": Setting(help, **kw)})


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = setting(15, "passes over the training digits", label="Epochs", low=1, high=100, step=1)
    lr: float = setting(1e-3, "learning rate: the constant rate, or the peak of the one-cycle schedule",
                        label="Learning rate (peak, for one-cycle)", low=1e-5, high=1.0)
    batch_size: int = setting(64, "digits per training step", label="Batch size", low=1, high=4096, step=8)
    optimizer: str = setting("adam", "adam, or sgd (with momentum 0.9)", label="Optimizer", choices=OPTIMIZERS)
    schedule: str = setting("constant", "learning-rate schedule", label="Learning-rate schedule",
                            choices=SCHEDULES)
    class_bias_init: float | None = setting(None, "start value of the CNN's conv3.bias (default: PyTorch's)",
                                            low=-10.0, high=10.0)
    final_relu: bool = setting(True, "leave out the tutorial's ReLU on the CNN's class scores")
    augment: bool = setting(False, "random shifts, rotations, scale and stroke thickness",
                            label="Augment (small shifts, rotations, scale, stroke width)")
    limit: int | None = setting(None, "train on the first N training digits", low=10, high=50_000, step=1000,
                                label="Training digits (fewer train faster: 5,000 for a quick class demo)")
    seed: int = setting(0, "seed of the weights, the shuffling and the augmentation", label="Seed",
                        low=0, high=2**31 - 1)
    device: str = setting("auto", "auto is CUDA when present, else the CPU", choices=DEVICES)
    log_every: int = setting(50, "steps between progress events", low=1, high=10_000)
    target_acc: float | None = setting(None, "stop after the first epoch whose validation accuracy reaches "
                                             "this fraction (e.g. 0.95)", low=0.0, high=1.0,
                                       label="Stop at this validation accuracy (%; 0 = train every epoch)")
    own_share: float = setting(0.05, "share of each epoch's rows that are your own digits (when given)",
                               low=0.0, high=0.5)


def setting_of(name: str) -> Setting:
    """The Setting of one TrainConfig field."""
    return next(f.metadata["setting"] for f in dataclasses.fields(TrainConfig) if f.name == name)


PRESETS = {
    "tutorial": TrainConfig(),
    "one-cycle": TrainConfig(lr=1e-2, schedule="onecycle", class_bias_init=1.0),
    # The same recipe, hotter and shorter: measured on 2 CPU cores (benchmarks/train_speed.py), two
    # epochs at a 5e-2 peak reach 95 % (seeds 0-3: 95.0-95.6 %) in ~4.5 s, where 1e-2 needs five.
    "fast": TrainConfig(epochs=2, lr=5e-2, schedule="onecycle", class_bias_init=1.0),
    # Starting from trained weights (shipped or your own): a few short epochs at a small rate
    # teach your own digits without forgetting MNIST (benchmarks/own_digits.py measures both).
    "fine-tune": TrainConfig(epochs=3, lr=3e-4, limit=10_000),
}
PRESET_HELP = {
    "tutorial": "The tutorial's recipe: Adam at a constant 1e-3 (its CNN often ends with dead "
                "classes, 75-92 %).",
    "one-cycle": "Same models, but the learning rate ramps up to 1e-2 and back down, and the CNN's "
                 "class scores start at 1 so none starts dead: the CNN reaches ~96.5 %.",
    "fast": "One-cycle in two epochs at a 5e-2 peak: the CNN reaches ~95 %, about ten times sooner than the "
            "tutorial's 15 epochs (tens of seconds for both models on two CPU cores).",
    "fine-tune": "For trained weights (start from the shipped or your own): 3 epochs on 10,000 "
                 "digits at 3e-4. With your digits included, it adapts to them: a rising share of them, "
                 "keeping the best weights that lose at most 1 point on MNIST.",
}


def check_config(cfg: TrainConfig) -> TrainConfig:
    """Return ``cfg`` unchanged, or raise ValueError saying which setting is out of range. The app
    calls it on every request, whatever its controls sent."""
    for f in dataclasses.fields(TrainConfig):
        rule, value = f.metadata["setting"], getattr(cfg, f.name)
        if value is None:
            continue
        if rule.choices and value not in rule.choices:
            raise ValueError(f"{f.name} must be one of {', '.join(rule.choices)}, got {value!r}")
        if rule.low is not None and (isinstance(value, float) and not math.isfinite(value)
                                     or not rule.low <= value <= rule.high):
            raise ValueError(f"{f.name} must be between {rule.low:g} and {rule.high:g}, got {value}"
                             if isinstance(rule.high, float) else
                             f"{f.name} must be between {rule.low} and {rule.high}, got {value}")
    if cfg.device == "cuda" and not torch.cuda.is_available():
        raise ValueError("device cuda was asked for, but no CUDA GPU is available")
    return cfg


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
    angle, scale = u[:, 0] * math.radians(12), 1 + 0.12 * u[:, 1]
    shift = u[:, 2:4] * (2.0 * 2 / 28)  # up to 2 pixels, in affine_grid's [-1, 1] units
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack([torch.stack([cos, -sin, shift[:, 0]], 1),
                         torch.stack([sin, cos, shift[:, 1]], 1)], 1)
    grid = F.affine_grid(theta, img.shape, align_corners=False)
    img = F.grid_sample(img, grid, align_corners=False, padding_mode="zeros")
    # Thickness: blend towards a dilated (t > 0) or an eroded (t < 0) copy.
    t = (u[:, 4] * 0.6 + 0.2).view(n, 1, 1, 1)  # mostly thicker: drawn strokes tend to be bold
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
    if cfg.optimizer == "adam":
        # fused=True: one kernel for all parameters instead of a Python loop over them.
        return torch.optim.Adam(model.parameters(), lr=cfg.lr, fused=True)
    return torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=0.9)


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
    sched = (torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=cfg.epochs * steps)
             if cfg.schedule == "onecycle" else None)
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
                                time.perf_counter() - start)
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

def reached_target(cfg: TrainConfig, valid_acc: float) -> bool:
    return cfg.target_acc is not None and valid_acc >= cfg.target_acc


def initial_model(name: str, cfg: TrainConfig, init: str | None) -> nn.Module:
    """New weights (``init`` None), or trained ones to fine-tune: 'shipped', a folder or a file."""
    from .inference import WEIGHTS_DIR
    from .weights import load_weights

    if init is None:
        return new_model(name, cfg)
    path = Path(WEIGHTS_DIR if init == "shipped" else init)
    return load_weights(path / f"{name}.safetensors" if path.is_dir() else path, expect=name)[0].train()


# ---------------------------------------------------------------------------- command line


def option_type(f: dataclasses.Field) -> type:
    """The Python type behind a field's annotation ("float | None" -> float)."""
    return {"int": int, "float": float, "str": str, "bool": bool}[f.type.split(" |")[0]]


def plain(text: str) -> str:
    """Help text with its % signs doubled: argparse %-formats every help string."""
    return text.replace("%", "%%")


def add_config_options(p: argparse.ArgumentParser) -> None:
    """One option per TrainConfig field, from its Setting. An option not given is left out of the
    namespace, so the preset's value stands; a boolean becomes a switch away from its default."""
    for f in dataclasses.fields(TrainConfig):
        rule, flag = f.metadata["setting"], "--" + f.name.replace("_", "-")
        if option_type(f) is bool:
            switch = flag if not f.default else "--no-" + flag[2:]
            p.add_argument(switch, dest=f.name, action="store_const", const=not f.default,
                           default=argparse.SUPPRESS, help=plain(rule.help))
        else:
            p.add_argument(flag, type=option_type(f), choices=rule.choices or None, default=argparse.SUPPRESS,
                           help=plain(rule.help))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    description = __doc__.split("\n")[0] + " Every training setting not given takes the preset's value."
    p = argparse.ArgumentParser(prog="python -m mnist_demo.train", description=description,
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--model", choices=[*MODEL_NAMES, "both"], default="both")
    p.add_argument("--preset", choices=list(PRESETS), default="tutorial",
                   help=plain(" ".join(f"{k}: {v}" for k, v in PRESET_HELP.items())))
    add_config_options(p)
    # --extra-share and --extra-digits: the older names of --own-share and --own-digits, still read.
    p.add_argument("--extra-share", dest="own_share", type=float, default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    p.add_argument("--init", metavar="WEIGHTS", help="start from these weights instead of new ones: 'shipped' "
                   "(weights/<model>.safetensors) or a folder or file of <model>.safetensors (fine-tuning)")
    own_help = ("your own digits, as the app exports them (the IDX pair, or one file of it, or the zip of "
                "PNGs): mixed into every epoch and augmented, a quarter held out and measured")
    p.add_argument("--own-digits", nargs="+", metavar="FILE", help=own_help)
    p.add_argument("--extra-digits", dest="own_digits", nargs="+", help=argparse.SUPPRESS)
    p.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    p.add_argument("--data-dir", help="folder of the four MNIST IDX files (default: $MNIST_DIR, "
                                      "else download from OpenML)")
    p.add_argument("--out", default="runs", help="folder for <model>.safetensors")
    p.add_argument("--dry-run", action="store_true", help="one epoch on 512 digits, nothing written")
    return p.parse_args(argv)


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    overrides = {f.name: getattr(args, f.name) for f in dataclasses.fields(TrainConfig)
                 if getattr(args, f.name, None) is not None}
    if args.dry_run:
        overrides.update(epochs=1, limit=512)
    return check_config(dataclasses.replace(PRESETS[args.preset], **overrides))


def main(argv: list[str] | None = None) -> int:
    from tqdm import tqdm

    from .digit_files import DigitFileError, load_extra_digits
    from .finetune import adaptive_finetune
    from .weights import WeightsError, save_weights

    args = parse_args(argv)
    try:
        cfg = config_from_args(args)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        data = load_mnist(args.data_dir)
    except DataError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    names = MODEL_NAMES if args.model == "both" else (args.model,)
    try:
        starts = {name: initial_model(name, cfg, args.init) for name in names}
        own, own_held = load_extra_digits(args.own_digits).split() if args.own_digits else (None, None)
    except (WeightsError, DigitFileError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    if own is not None:
        mix = OwnMix.of(data, cfg, own)
        print(f"your digits: {mix.own} to train on ({mix.repeats}x each per epoch, augmented), "
              f"{len(own_held)} held out")
    for name in names:
        model = starts[name]
        last = None
        # Trained weights and your digits: the adaptive fine-tune decides how much of them, and how long.
        run = adaptive_finetune(model, data, cfg, own, own_held) if args.init and own is not None else None
        total = run.total_steps if run else cfg.epochs * steps_per_epoch(data, cfg, own)
        if own_held is not None and len(own_held):
            print(f"{name} before: your held-out digits {evaluate_digits(model, own_held):.1%}")
        with tqdm(total=total, desc=name, unit="step", leave=False, file=sys.stderr) as bar:
            for event in run or train(model, data, cfg, own, own_held):
                if isinstance(event, StepEvent):
                    bar.update(event.epoch * event.steps_per_epoch + event.step - bar.n)
                    bar.set_postfix(loss=f"{event.train_loss:.4f}")
                else:
                    last = event
                    held_acc = "" if event.own_held_acc is None else f"  your_held_out {event.own_held_acc:.1%}"
                    tqdm.write(f"{name} epoch {event.epoch:2d}  valid_loss {event.valid_loss:.4f}  "
                               f"valid_acc {event.valid_acc:.2%}{held_acc}  {event.elapsed:6.1f}s  "
                               f"{event.samples_per_sec:,.0f} samples/s")
        meta = {}
        if run is not None:
            last = run.choice.event(last.elapsed if last else 0.0)
            meta = run.choice.metadata()
            print(f"{name}: {run.choice.sentence()}.")
        if args.dry_run:
            continue
        if cfg.target_acc is not None and last is not None:
            verdict = "reached" if reached_target(cfg, last.valid_acc) else "did not reach"
            print(f"{name}: {verdict} the {cfg.target_acc:.2%} target ({last.valid_acc:.2%} after "
                  f"{last.epoch + 1} epoch{'s' * (last.epoch > 0)}, {last.elapsed:.1f} s)")
        if own_held is not None and len(own_held):
            print(f"{name} after: your held-out digits {evaluate_digits(model, own_held):.1%}")
        path = Path(args.out) / f"{name}.safetensors"
        save_weights(model, path, run_metadata(cfg, args.preset, data, last, args.init or "new weights", own, own_held)
                     | meta)
        print(f"wrote {path}  (valid_acc {last.valid_acc:.2%})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
