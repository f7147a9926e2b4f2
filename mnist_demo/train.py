"""The trainer's command line: ``python -m mnist_demo.train`` trains either model or both and
writes ``<out>/<model>.safetensors``.

    python -m mnist_demo.train --model both --preset one-cycle --out weights
    python -m mnist_demo.train --model cnn --preset fine-tune --init shipped --own-digits a.gz b.gz

Only the command line lives here. The loop and its events are training.py's, the recipes
presets.py's: Python runs this file as ``__main__``, and a module importing ``mnist_demo.train``
would load it a second time, with its own copies of every class in it (an event made by one copy
is no instance of the other's). So no module imports this one (tests/test_imports.py holds it).
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import sys
from pathlib import Path
from typing import TYPE_CHECKING

# Torch-free (presets.py is data), so that --help and a wrong flag answer at once, as app.py's do:
# torch and the training code load in ``train_models``, once the command line is read (3 s before, 0.3 now).
from .presets import MODEL_NAMES, PRESET_HELP, PRESETS, TrainConfig, check_config, reached_target
from .settings import from_process

if TYPE_CHECKING:
    from torch import nn


def initial_model(name: str, cfg: TrainConfig, init: str | None) -> nn.Module:
    """New weights (``init`` None), or trained ones to fine-tune: 'shipped', a folder or a file."""
    from .inference import WEIGHTS_DIR
    from .training import new_model
    from .weights import load_weights

    if init is None:
        return new_model(name, cfg)
    path = Path(WEIGHTS_DIR if init == "shipped" else init)
    return load_weights(path / f"{name}.safetensors" if path.is_dir() else path, expect=name)[0].train()


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
    description = ("Train the tutorial's linear model and CNN on MNIST, from new weights or fine-tuning trained "
                   "ones. Every training setting not given takes the preset's value.")
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
    args = parse_args(argv)
    try:
        cfg = config_from_args(args)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return train_models(args, cfg)


def train_models(args: argparse.Namespace, cfg: TrainConfig) -> int:
    """The trainings the command line asked for; 0, or 1 or 2 with a sentence on stderr."""
    import torch
    from tqdm import tqdm

    from .data import CLI_ADVICE, DataError, MnistSource, NoDataError
    from .digit_files import DigitFileError, load_extra_digits
    from .evaluation import evaluate_digits
    from .finetune import adaptive_finetune, fine_tunes
    from .training import OwnMix, StepEvent, run_metadata, steps_per_epoch, train
    from .weights import WeightsError, save_weights

    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        settings = from_process()  # the command line's own, from the environment
    except ValueError as e:  # a setting the host got wrong, named by from_env
        print(f"error: {e}", file=sys.stderr)
        return 2
    # --data-dir wins over MNIST_DIR; the decoded files are cached where the app keeps them.
    mnist = MnistSource(args.data_dir or settings.mnist_dir, settings.data_dir)
    try:
        data = mnist.load()
    except DataError as e:
        print(f"error: {e.advice(*CLI_ADVICE) if isinstance(e, NoDataError) else e}", file=sys.stderr)
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
        run = adaptive_finetune(model, data, cfg, own, own_held) if fine_tunes(bool(args.init), own) else None
        total = run.total_steps if run else cfg.epochs * steps_per_epoch(data, cfg, own)
        if own_held is not None and len(own_held):
            print(f"{name} before: your held-out digits {evaluate_digits(model, own_held):.1%}")
        with tqdm(total=total, desc=name, unit="step", leave=False, file=sys.stderr) as bar:
            for event in run or train(model, data, cfg, own, own_held):
                if isinstance(event, StepEvent):
                    bar.update(event.steps_done - bar.n)
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
    code = main()
    # What is alive now goes with the process. Frozen, it is not walked again by the interpreter's
    # last garbage collection: torch's and its compiler's 350,000-odd objects took 0.6 of a dry
    # run's 3.2 CPU-s to free what exiting frees anyway (python -m benchmarks.cli_startup).
    gc.freeze()
    sys.exit(code)
