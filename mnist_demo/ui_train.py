"""The Train tab: retrain either model or both, watch the curves stream in, stop, and use the
result in the Draw tab. A training belongs to the browser session that started it."""

from __future__ import annotations

import copy
import dataclasses
import functools
import os
import time

import gradio as gr
import numpy as np
import pandas as pd
import torch

from .collection import Digits
from .models import MODEL_NAMES, MODEL_TITLES
from .session import RUNNING, Session, accept_start, stop_session
from .train import (
    BOUNDS,
    OPTIMIZERS,
    PRESET_HELP,
    PRESETS,
    SCHEDULES,
    EpochEvent,
    as_tensors,
    check_config,
    evaluate,
    evaluate_digits,
    new_model,
    reached_target,
    run_metadata,
    steps_per_epoch,
    train,
)
from .ui_evaluation import evaluation_outputs, mnist_or_error
from .weights import weights_to_bytes

# How many trainings may run at once across all sessions (the rest wait in the queue), and torch's
# threads. Measured on 2 CPUs (benchmarks/concurrent_training.py): two trainings with one thread
# each train 1.23x the digits per second of one training with two threads, while two trainings
# sharing two threads each collapse to 0.35x. So: one training per CPU, the CPUs shared out.
CPUS = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
MAX_TRAININGS = max(1, int(os.environ.get("MNIST_MAX_TRAININGS", str(CPUS))))
TRAINING_THREADS = max(1, CPUS // MAX_TRAININGS)
# What a host allows every visitor (a class on one small server, say): at most this many epochs and
# training digits per training. The sliders stop there, and the server refuses more whatever is sent.
MAX_EPOCHS = max(1, min(int(os.environ.get("MNIST_MAX_EPOCHS", "50")), BOUNDS["epochs"][1]))
MAX_DIGITS = max(1000, min(int(os.environ.get("MNIST_MAX_DIGITS", str(BOUNDS["limit"][1]))), BOUNDS["limit"][1]))
UI_UPDATE_SECONDS = 0.25  # at most four plot updates a second, however fast the steps are
SMOOTHING = 0.8  # exponential moving average of the training loss
ACC_COLOURS = {"Linear": "#2563eb", "CNN": "#f97316", "Linear · your held-out digits": "#93c5fd",
               "CNN · your held-out digits": "#fdba74"}
START_FROM = ("new weights", "shipped weights", "my trained weights")
LOSS_COLOURS = {"Linear training": "#93c5fd", "Linear validation": "#1d4ed8",
                "CNN training": "#fdba74", "CNN validation": "#c2410c"}


def config_from_controls(preset, epochs, lr, batch_size, optimizer, schedule, subset, seed, augment, target=0):
    """The controls as a TrainConfig, bounded on the server whatever the client sends. ``target``
    is a validation accuracy in % to stop at (0: every epoch)."""
    if preset not in PRESETS:
        raise gr.Error(f"Unknown recipe {preset!r}.")
    try:
        cfg = dataclasses.replace(
            PRESETS[preset], epochs=int(epochs), lr=float(lr), batch_size=int(batch_size), optimizer=optimizer,
            schedule=schedule, limit=int(subset), seed=int(seed), augment=bool(augment),
            target_acc=float(target) / 100 if target else None)
        cfg = check_config(cfg)
    except (TypeError, ValueError) as e:
        raise gr.Error(f"Invalid training settings: {e}") from None
    if cfg.epochs > MAX_EPOCHS or cfg.limit > MAX_DIGITS:
        raise gr.Error(f"This server allows at most {MAX_EPOCHS} epochs and {MAX_DIGITS:,} training digits "
                       "per training (set by its host).")
    return cfg


# ---------------------------------------------------------------------------- rendering


def plot_frame(rows: list[dict], x: str, y: str, key: str, series) -> pd.DataFrame:
    """Rows for a LinePlot, led by one empty (NaN) point per series: Gradio's plot fixes its set
    of series at the first update, so a curve that only appears later would never be drawn."""
    placeholders = [{x: np.nan, y: np.nan, key: name} for name in series]
    return pd.DataFrame(placeholders + rows, columns=[x, y, key])


def weights_files(models: dict, metadata: dict[str, dict[str, str]], session: Session) -> list[str]:
    """The session's weights as .safetensors in its fresh temporary folder (never in weights/)."""
    folder = session.new_downloads()
    paths = []
    for name, model in models.items():
        path = os.path.join(folder, f"{name}.safetensors")
        with open(path, "wb") as f:
            f.write(weights_to_bytes(model, metadata[name]))
        paths.append(path)
    return paths


# ---------------------------------------------------------------------------- the training stream


def starting_models(names, start_from: str, cfg, session: Session, shipped: dict | None) -> dict:
    """The models a training starts from: new ones, or copies of trained ones to fine-tune."""
    if start_from not in START_FROM:
        raise gr.Error(f"Start from one of: {', '.join(START_FROM)}.")
    if start_from == "my trained weights":
        missing = [MODEL_TITLES[n] for n in names if n not in session.models]
        if missing:
            raise gr.Error(f"No trained {' or '.join(missing)} in this tab yet: train one first, or start from "
                           "the shipped weights.")
        return {n: copy.deepcopy(session.models[n]).train() for n in names}
    if start_from == "shipped weights":
        if shipped is None:
            raise gr.Error("This app has no shipped weights to start from.")
        return {n: copy.deepcopy(shipped[n]).train() for n in names}
    return {n: new_model(n, cfg) for n in names}


def own_digits(include, session: Session) -> tuple[Digits | None, Digits | None]:
    """(digits to train on, digits held out) when the visitor includes their collection."""
    if not include:
        return None, None
    fit, held = session.digits.snapshot().split()
    if not len(fit):
        raise gr.Error("Your collection has no digits to train on yet: keep a few in the Draw tab first "
                       "(a quarter of them is held out to measure the result).")
    return fit, held


def run_training(which, preset, epochs, lr, batch_size, optimizer, schedule, subset, seed, augment, target,
                 start_from="new weights", include=False, session: Session | None = None,
                 request: gr.Request | None = None, shipped: dict | None = None):
    """Generator: yields (loss plot, accuracy plot, progress, confusion, mistakes, file, session).
    ``start_from`` and ``include`` (the visitor's own digits) come last, so that clients of the
    older 10- and 11-input /train get their defaults."""
    waiting, session.waiting = session.waiting, False  # True when its Start button queued it
    cfg = config_from_controls(preset, epochs, lr, batch_size, optimizer, schedule, subset, seed, augment, target)
    names = MODEL_NAMES if which == "both" else (which,)
    if any(n not in MODEL_NAMES for n in names):
        raise gr.Error(f"Unknown model {which!r}.")
    if session.running:
        raise gr.Error("A training is already running in this tab: stop it first.")
    starts = starting_models(names, start_from, cfg, session, shipped)
    extra, held = own_digits(include, session)
    done = gr.skip()
    if waiting and session.stop.is_set():  # Stop pressed while it waited: it leaves the queue
        yield None, None, "Stopped while waiting for its turn: nothing was trained.", done, done, done, done
        return
    if not waiting:  # an API call, which has no Start button: only a Stop from now on counts
        session.stop.clear()
    session.running = True
    key = request.session_hash if request is not None else None
    if key:
        RUNNING[key] = session
    try:
        yield None, None, "Loading MNIST… (the first time on a new machine this downloads it)", done, done, done, done
        data = mnist_or_error()
        losses, accs, trained, last, before = [], [], {}, {}, {}
        titles = [MODEL_TITLES[n] for n in names]
        loss_series = [f"{t} {kind}" for t in titles for kind in ("training", "validation")]
        acc_series = [*titles, *(f"{t} · your held-out digits" for t in titles if held is not None and len(held))]

        def frames():
            return (plot_frame(losses, "epoch", "loss", "curve", loss_series),
                    plot_frame(accs, "epoch", "accuracy", "model", acc_series))

        per_model = cfg.epochs * steps_per_epoch(data, cfg, extra)
        start, last_ui = time.perf_counter(), 0.0
        for k, name in enumerate(names):
            model, smooth, title = starts[name], None, MODEL_TITLES[name]
            if start_from != "new weights" or held is not None:  # where it starts: epoch 0 on the curves
                before[name] = starting_point(model, data, held)
                accs.append({"epoch": 0, "accuracy": 100 * before[name][0], "model": title})
                if before[name][1] is not None:
                    accs.append({"epoch": 0, "accuracy": 100 * before[name][1],
                                 "model": f"{title} · your held-out digits"})
            for event in train(model, data, cfg, extra, held):
                if isinstance(event, EpochEvent):
                    last[name] = event
                    losses.append({"epoch": event.epoch + 1, "loss": event.valid_loss, "curve": f"{title} validation"})
                    accs.append({"epoch": event.epoch + 1, "accuracy": 100 * event.valid_acc, "model": title})
                    if event.held_acc is not None:
                        accs.append({"epoch": event.epoch + 1, "accuracy": 100 * event.held_acc,
                                     "model": f"{title} · your held-out digits"})
                    steps_done = (event.epoch + 1) * (per_model // cfg.epochs)
                    speed = f" · {event.samples_per_sec:,.0f} samples/s"
                else:
                    smooth = event.train_loss if smooth is None else (
                        SMOOTHING * smooth + (1 - SMOOTHING) * event.train_loss)
                    losses.append({"epoch": event.epoch + event.step / event.steps_per_epoch, "loss": smooth,
                                   "curve": f"{title} training"})
                    steps_done, speed = event.epoch * event.steps_per_epoch + event.step, ""
                now = time.perf_counter()
                if isinstance(event, EpochEvent) or now - last_ui >= UI_UPDATE_SECONDS or session.stop.is_set():
                    last_ui = now
                    done_all, total = k * per_model + steps_done, per_model * len(names)
                    eta = (now - start) / max(1, done_all) * (total - done_all)
                    progress = (f"**{title}** · epoch {event.epoch + 1}/{cfg.epochs} · step {done_all:,}/{total:,}"
                                f" · ETA {eta:,.0f} s{speed}")
                    yield (*frames(), progress, done, done, done, done)
                if session.stop.is_set():
                    break
            trained[name] = model.to("cpu").eval()
            if session.stop.is_set():
                break
        session.models.update(trained)
        verdict = "Stopped" if session.stop.is_set() else "Finished"
        if cfg.target_acc is not None:
            verdict += "; " + ", ".join(
                f"{MODEL_TITLES[n]} {'reached' if reached_target(cfg, e.valid_acc) else 'did not reach'} the "
                f"{cfg.target_acc:.1%} target ({e.valid_acc:.2%} after epoch {e.epoch + 1})" for n, e in last.items())
        figures = "".join(before_after(MODEL_TITLES[n], before[n], e, len(held) if held is not None else 0)
                          for n, e in last.items() if n in before)
        html, gallery = evaluation_outputs(trained, "Your")
        files = weights_files(trained, {n: run_metadata(cfg, f"{preset}, trained in the app", data, last.get(n),
                                                         start_from, extra, held)
                                        for n in trained}, session)
        yield (*frames(),
               f"{verdict} after {time.perf_counter() - start:.0f} s{figures}. Your weights are ready: pick "
               f"“my trained weights” in the Draw tab, or download them below.",
               html, gallery, files, session)
    finally:
        session.running = False
        RUNNING.pop(key, None)


def starting_point(model, data, held: Digits | None) -> tuple[float, float | None]:
    """A model's validation accuracy, and on the held-out own digits, before its training."""
    x_valid, y_valid = as_tensors(data, torch.device("cpu"))[2:]
    own = evaluate_digits(model, held) if held is not None and len(held) else None
    return evaluate(model, x_valid, y_valid)[1], own


def before_after(title: str, before: tuple[float, float | None], after: EpochEvent, held: int) -> str:
    """One model's figures before and after training from trained weights or with own digits."""
    text = f". {title}: MNIST validation {before[0]:.2%} → {after.valid_acc:.2%}"
    if before[1] is not None and after.held_acc is not None:
        text += f", your {held} held-out digits {before[1]:.0%} → {after.held_acc:.0%}"
    return text


# ---------------------------------------------------------------------------- layout


def build_train_tab(session_state: gr.State, shipped_models: dict):
    gr.Markdown("Retrain the tutorial's models here. Your training stays yours: the shipped models, and "
                "what every other visitor sees, never change.")
    with gr.Row():
        with gr.Column(scale=1, min_width=280):
            which = gr.Radio(["linear", "cnn", "both"], value="both", label="Model", elem_id="train-model")
            start_from = gr.Radio(list(START_FROM), value=START_FROM[0], label="Start from", elem_id="train-start-from",
                                  info="Trained weights are fine-tuned: the recipe switches to “fine-tune”.")
            include = gr.Checkbox(False, label="Include my digits (kept in the Draw tab; a quarter held out to "
                                               "measure the result)", elem_id="train-include")
            preset = gr.Dropdown(list(PRESETS), value="tutorial", label="Recipe",
                                 info=PRESET_HELP["tutorial"], elem_id="train-preset")
            subset = gr.Slider(1000, MAX_DIGITS, value=MAX_DIGITS, step=1000, elem_id="train-subset",
                               label="Training digits (5,000 trains in seconds for a class demo)")
            epochs = gr.Slider(1, MAX_EPOCHS, value=min(15, MAX_EPOCHS), step=1, label="Epochs", elem_id="train-epochs")
            with gr.Accordion("More settings", open=False):
                lr = gr.Number(1e-3, label="Learning rate (peak, for one-cycle)", minimum=BOUNDS["lr"][0],
                               maximum=BOUNDS["lr"][1])
                batch = gr.Slider(8, 1024, value=64, step=8, label="Batch size")
                optimizer = gr.Radio(list(OPTIMIZERS), value="adam", label="Optimizer")
                schedule = gr.Radio(list(SCHEDULES), value="constant", label="Learning-rate schedule")
                seed = gr.Number(0, label="Seed", precision=0, minimum=0)
                augment = gr.Checkbox(False, label="Augment (small shifts, rotations, scale, stroke width)")
                target = gr.Number(0, label="Stop at this validation accuracy (%; 0 = train every epoch)",
                                   minimum=0, maximum=100, elem_id="train-target")
            with gr.Row():
                start = gr.Button("Start training", variant="primary", elem_id="train-start")
                stop = gr.Button("Stop", elem_id="train-stop")
        with gr.Column(scale=2):
            progress = gr.Markdown("Set the options and press **Start training**.", elem_id="train-progress")
            loss_plot = gr.LinePlot(x="epoch", y="loss", color="curve", label="Loss (training smoothed)",
                                    elem_id="loss-plot", height=300, color_map=LOSS_COLOURS)
            acc_plot = gr.LinePlot(x="epoch", y="accuracy", color="model", label="Validation accuracy (%)",
                                   elem_id="acc-plot", height=220, color_map=ACC_COLOURS)
    with gr.Accordion("After training: confusion matrices and mistakes", open=True):
        shipped_button = gr.Button("Show them for the shipped models")
        confusion = gr.HTML(elem_id="confusion")
        mistakes = gr.Gallery(label="Most confident mistakes", columns=6, height="auto", elem_id="mistakes")
        download = gr.File(label="Download your trained weights (.safetensors)", file_count="multiple",
                           interactive=False, elem_id="download")

    def on_preset(name):
        cfg = PRESETS.get(name, PRESETS["tutorial"])
        return (gr.Dropdown(info=PRESET_HELP.get(name, "")), cfg.lr, cfg.schedule, min(cfg.epochs, MAX_EPOCHS),
                min(cfg.limit or MAX_DIGITS, MAX_DIGITS))

    quiet = dict(api_visibility="private", show_progress="hidden")
    preset.change(on_preset, preset, [preset, lr, schedule, epochs, subset], **quiet)  # its help: the chosen one
    start_from.change(lambda s: "tutorial" if s == START_FROM[0] else "fine-tune", start_from, preset, **quiet)
    inputs = [which, preset, epochs, lr, batch, optimizer, schedule, subset, seed, augment, target, start_from,
              include, session_state]
    start.click(accept_start, session_state, None, queue=False, api_visibility="private").then(
        functools.partial(run_training, shipped=shipped_models), inputs,
                [loss_plot, acc_plot, progress, confusion, mistakes, download, session_state],
                api_name="train", concurrency_limit=MAX_TRAININGS, concurrency_id="train",
                show_progress="full", show_progress_on=[progress])  # queued visitors see their place there
    stop.click(stop_session, session_state, None, queue=False, api_visibility="private")
    shipped_button.click(lambda: evaluation_outputs(shipped_models, "Shipped"), None, [confusion, mistakes],
                         api_visibility="private")
