"""What a training may be asked for: ``TrainConfig``, each field's ``Setting`` (bounds, help,
label), the named ``PRESETS``, and ``check_config``. Read by the trainer (training.py), the command
line (train.py), the Train tab and the host's settings (settings.py).

No torch here, on purpose: settings.py and the class store need these names and bounds without
paying for torch's import (tests/test_imports.py holds it). ``check_config`` asks torch only
when a run asks for CUDA.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

MODEL_NAMES = ("linear", "cnn")  # models.py builds them; these names are all the rest needs
MAX_MODEL_BYTES = 1_000_000  # both models' weights files are < 40 kB; anything far larger is not ours

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
    if cfg.device == "cuda":
        import torch  # only here: asking whether a GPU exists is torch's to answer

        if not torch.cuda.is_available():
            raise ValueError("device cuda was asked for, but no CUDA GPU is available")
    return cfg


def reached_target(cfg: TrainConfig, valid_acc: float) -> bool:
    return cfg.target_acc is not None and valid_acc >= cfg.target_acc
