"""What a training may be asked for: ``TrainConfig``, each field's ``Setting`` (bounds, help,
label), the named ``PRESETS``, and ``check_config``. Read by the trainer (training.py), the command
line (train.py), the Train tab and the host's settings (settings.py).

The values themselves live in ``presets.json``, defined once for Python and for the page, which
trains too (page/trainer.js, page/optim.js; page_assets.page_setup() sends the file as it is):
each setting's default and bounds, each preset's changes, and the options of the optimizers and
of the one-cycle schedule that training.py hands to torch. tests/test_page_training.py holds the
page's reading of it to Python's.

No torch here, on purpose: settings.py and the class store need these names and bounds without
paying for torch's import (tests/test_imports.py holds it). ``check_config`` asks torch only
when a run asks for CUDA.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from pathlib import Path

TRAINING = json.loads(Path(__file__).with_name("presets.json").read_text(encoding="utf-8"))
SETTINGS = TRAINING["settings"]

MODEL_NAMES = tuple(TRAINING["model_names"])  # models.py builds them; these names are all the rest needs
MAX_MODEL_BYTES = TRAINING["max_model_bytes"]  # both models' weights files are < 40 kB; anything far larger is not ours

OPTIMIZERS = tuple(SETTINGS["optimizer"]["choices"])
SCHEDULES = tuple(SETTINGS["schedule"]["choices"])
DEVICES = tuple(SETTINGS["device"]["choices"])
# What training.py passes to torch besides the learning rate, and what the page's optim.js does:
# torch's own defaults, written out so that both sides read them from one place.
OPTIMIZER_OPTIONS = TRAINING["optimizers"]  # {"adam": {betas, eps, weight_decay}, "sgd": {momentum, ...}}
ONE_CYCLE = TRAINING["schedules"]["onecycle"]  # OneCycleLR's pct_start, anneal_strategy, momentum cycling...
AUGMENTATION = TRAINING["augmentation"]  # the random moves of augment_batch (training.py) and page/augment.js


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


def setting(name: str):
    """The dataclass field of setting ``name``, as presets.json defines it: its default, and its
    ``Setting`` in the field's metadata."""
    spec = dict(SETTINGS[name])
    default = spec.pop("default")
    if "choices" in spec:
        spec["choices"] = tuple(spec["choices"])
    return dataclasses.field(default=default, metadata={"setting": Setting(**spec)})


@dataclass(frozen=True)
class TrainConfig:
    """One training's recipe. The fields' names and types are here; their defaults and bounds are
    presets.json's (tests/test_page_training.py checks that the two name the same settings)."""

    epochs: int = setting("epochs")
    lr: float = setting("lr")
    batch_size: int = setting("batch_size")
    optimizer: str = setting("optimizer")
    schedule: str = setting("schedule")
    class_bias_init: float | None = setting("class_bias_init")
    final_relu: bool = setting("final_relu")
    augment: bool = setting("augment")
    limit: int | None = setting("limit")
    seed: int = setting("seed")
    device: str = setting("device")
    log_every: int = setting("log_every")
    target_acc: float | None = setting("target_acc")
    own_share: float = setting("own_share")


def setting_of(name: str) -> Setting:
    """The Setting of one TrainConfig field."""
    return next(f.metadata["setting"] for f in dataclasses.fields(TrainConfig) if f.name == name)


# tutorial, one-cycle, fast, fine-tune: each the defaults with its "changes" (presets.json says why).
PRESETS = {name: TrainConfig(**preset["changes"]) for name, preset in TRAINING["presets"].items()}
PRESET_HELP = {name: preset["help"] for name, preset in TRAINING["presets"].items()}


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
