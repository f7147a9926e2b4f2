"""The Train tab: retrain either model or both, watch the curves stream in, stop, and use the
result in the Draw tab. A training belongs to the browser session that started it.

The pieces, each testable alone: ``TrainRequest`` (the controls, checked on the server), ``Curves``
(the plotted series), ``Eta`` (time left) and ``verdict`` (the closing sentence); ``run_training``
wires them into the stream that the Start button and the /train API consume."""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import time
from collections.abc import Iterator, Sequence

import gradio as gr
import numpy as np
import pandas as pd

from . import gpu
from .data import MnistSource
from .driver import (
    NEW,
    START_FROM,
    Begun,
    Eta,
    Figures,
    Outcome,
    Plan,
    Progress,
    RunError,
    drive,
    split_digits,
    starting_models,
)
from .handlers import QUIET, bind
from .models import MODEL_NAMES, MODEL_TITLES
from .page_assets import page_file, shipped_urls, train_head
from .page_trainer import DEVICE, SERVER, not_on_server, not_ready, trainer_setup, where_choices
from .presets import PRESET_HELP, PRESETS, TrainConfig, check_config, reached_target, setting_of
from .session import RUNNING, WAITING, Session, accept_start, stop_session
from .settings import Settings, from_process
from .training import EpochEvent, StepEvent, run_metadata
from .ui_draw import DrawTab, send_trained
from .ui_evaluation import confusion_section, evaluation_outputs, mistakes_html
from .weights import weights_to_bytes

UI_UPDATE_SECONDS = 0.25  # at most four plot updates a second, however fast the steps are
SMOOTHING = 0.8  # exponential moving average of the training loss
ACC_COLOURS = {"Linear": "#2563eb", "CNN": "#f97316", "Linear · your held-out digits": "#93c5fd",
               "CNN · your held-out digits": "#fdba74"}
LOSS_COLOURS = {"Linear training": "#93c5fd", "Linear validation": "#1d4ed8",
                "CNN training": "#fdba74", "CNN validation": "#c2410c"}
MODEL_CHOICES = (*MODEL_NAMES, "both")
DEFAULT_PRESET = "fast"  # a class demo: both models in seconds; the tutorial's 15 epochs are one tap away
# The /train API's inputs, in order. start_from and include come last, so that clients of the
# older 10- and 11-input /train get their components' defaults.
CONTROLS = ("which", "preset", "epochs", "lr", "batch_size", "optimizer", "schedule", "subset", "seed", "augment",
            "target", "start_from", "include")


# ---------------------------------------------------------------------------- the request


@dataclasses.dataclass(frozen=True)
class TrainRequest:
    """What a visitor asked for, checked on the server whatever the client sent."""

    names: tuple[str, ...]  # the models to train, in order
    preset: str
    config: TrainConfig
    start_from: str
    include_own: bool  # mix the visitor's own digits in

    @classmethod
    def from_controls(cls, values: Sequence, settings: Settings) -> TrainRequest:
        """The controls' values, in CONTROLS order, as a request; gr.Error names what is wrong."""
        if len(values) != len(CONTROLS):
            raise gr.Error(f"A training takes {len(CONTROLS)} settings, got {len(values)}.")
        v = dict(zip(CONTROLS, values, strict=True))
        if v["which"] not in MODEL_CHOICES:
            raise gr.Error(f"Unknown model {v['which']!r}.")
        if v["preset"] not in PRESETS:
            raise gr.Error(f"Unknown preset {v['preset']!r}.")
        if v["start_from"] not in START_FROM:
            raise gr.Error(f"Start from one of: {', '.join(START_FROM)}.")
        names = MODEL_NAMES if v["which"] == "both" else (v["which"],)
        return cls(names, v["preset"], config_from_controls(v, settings), v["start_from"], bool(v["include"]))


def config_from_controls(v: dict, settings: Settings) -> TrainConfig:
    """The preset with the controls' values, within TrainConfig's bounds and the host's caps.
    ``target`` is a validation accuracy in % to stop at (0: every epoch)."""
    try:
        cfg = check_config(dataclasses.replace(
            PRESETS[v["preset"]], epochs=int(v["epochs"]), lr=float(v["lr"]), batch_size=int(v["batch_size"]),
            optimizer=v["optimizer"], schedule=v["schedule"], limit=int(v["subset"]), seed=int(v["seed"]),
            augment=bool(v["augment"]), target_acc=float(v["target"]) / 100 if v["target"] else None))
    except (TypeError, ValueError, OverflowError) as e:  # OverflowError: an infinite whole number
        raise gr.Error(f"Invalid training settings: {e}") from None
    if cfg.epochs > settings.max_epochs or cfg.limit > settings.max_digits:
        raise gr.Error(f"This server allows at most {settings.max_epochs} epochs and {settings.max_digits:,} "
                       "training digits per training (set by its host).")
    return cfg


# ---------------------------------------------------------------------------- curves, time left, verdict


def plot_frame(rows: list[dict], x: str, y: str, key: str, series) -> pd.DataFrame:
    """Rows for a LinePlot, led by one empty (NaN) point per series: Gradio's plot fixes its set
    of series at the first update, so a curve that only appears later would never be drawn."""
    placeholders = [{x: np.nan, y: np.nan, key: name} for name in series]
    return pd.DataFrame(placeholders + rows, columns=[x, y, key])


class Curves:
    """The plotted series of one run: each model's smoothed training loss at every StepEvent, its
    validation loss and accuracy at every EpochEvent, and where a model started (epoch 0) when it
    was trained before or is measured on the visitor's held-out digits."""

    def __init__(self, names: Sequence[str], with_held: bool):
        titles = [MODEL_TITLES[n] for n in names]
        self.loss_series = [f"{t} {kind}" for t in titles for kind in ("training", "validation")]
        self.acc_series = [*titles, *(f"{t} · your held-out digits" for t in titles if with_held)]
        self.losses: list[dict] = []
        self.accs: list[dict] = []
        self.smooth: dict[str, float] = {}

    def accuracy(self, name: str, epoch: int, valid_acc: float, held_acc: float | None) -> None:
        title = MODEL_TITLES[name]
        self.accs.append({"epoch": epoch, "accuracy": 100 * valid_acc, "model": title})
        if held_acc is not None:
            self.accs.append({"epoch": epoch, "accuracy": 100 * held_acc, "model": f"{title} · your held-out digits"})

    def add(self, event: StepEvent | EpochEvent) -> None:
        title = MODEL_TITLES[event.model]
        if isinstance(event, EpochEvent):
            self.losses.append({"epoch": event.epoch + 1, "loss": event.valid_loss, "curve": f"{title} validation"})
            self.accuracy(event.model, event.epoch + 1, event.valid_acc, event.own_held_acc)
            return
        before = self.smooth.get(event.model)
        smooth = event.train_loss if before is None else SMOOTHING * before + (1 - SMOOTHING) * event.train_loss
        self.smooth[event.model] = smooth
        self.losses.append({"epoch": event.epoch + event.step / event.steps_per_epoch, "loss": smooth,
                            "curve": f"{title} training"})

    def frames(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        return (plot_frame(self.losses, "epoch", "loss", "curve", self.loss_series),
                plot_frame(self.accs, "epoch", "accuracy", "model", self.acc_series))


def progress_line(event: StepEvent | EpochEvent, epochs: int, eta: Eta) -> str:
    speed = f" · {event.samples_per_sec:,.0f} samples/s" if isinstance(event, EpochEvent) else ""
    return (f"**{MODEL_TITLES[event.model]}** · epoch {event.epoch + 1}/{epochs} · "
            f"step {eta.steps_done:,}/{eta.total_steps:,} · ETA {eta.seconds_left() or 0:,.0f} s{speed}")


def before_after(title: str, before: Figures, after: Figures, held: int) -> str:
    """One model's figures before and after training from trained weights or with own digits."""
    text = f". {title}: MNIST validation {before.valid:.2%} → {after.valid:.2%}"
    if before.held is not None and after.held is not None:
        text += f", your {held} held-out digits {before.held:.0%} → {after.held:.0%}"
    return text


def verdict(outcome: Outcome, cfg: TrainConfig, held: int, kept: dict[str, float]) -> str:
    """The run's closing sentence: how it ended, the target, the before/after figures, and which
    weights are now "my trained weights" (``kept``: the earlier accuracy of each better model
    kept instead of this run's)."""
    accuracy = {n: f.valid for n, f in outcome.after.items()}
    text = "Stopped" if outcome.stopped else "Finished"
    if cfg.target_acc is not None:
        text += "; " + ", ".join(
            f"{MODEL_TITLES[n]} {'reached' if reached_target(cfg, e.valid_acc) else 'did not reach'} the "
            f"{cfg.target_acc:.1%} target ({e.valid_acc:.2%} after epoch {e.epoch + 1})"
            for n, e in outcome.last.items())
    text += f" after {outcome.seconds:.0f} s"
    text += "".join(before_after(MODEL_TITLES[n], outcome.before[n], outcome.after[n], held)
                    for n in outcome.after if n in outcome.before)
    for n, earlier in kept.items():
        text += (f". {MODEL_TITLES[n]}: this run ended at {accuracy[n]:.2%}, below your earlier {earlier:.2%}, so "
                 "the earlier one stays your “my trained weights” (press “Use the other weights instead” to "
                 "choose this run's, which is also in the download)")
    if len(kept) == len(accuracy):
        return text + ". Download this run's weights below."
    return text + ". Your weights are ready: pick “my trained weights” in the Draw tab, or download them below."


# ---------------------------------------------------------------------------- the training stream


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


@contextlib.contextmanager
def running(session: Session, request: gr.Request | None):
    """The session is training: a second Start is refused, and closing the tab stops it."""
    if not session.claim_training():
        raise gr.Error("A training is already running in this tab: stop it first.")
    key = request.session_hash if request is not None else None
    if key:
        RUNNING[key] = session
    try:
        yield
    finally:
        session.release_training()
        RUNNING.pop(key, None)


def run_training(session: Session, request: gr.Request | None, *controls, settings: Settings | None = None,
                 shipped: dict | None = None):
    """Generator behind Start and /train: ``controls`` in CONTROLS order; yields (loss plot,
    accuracy plot, progress, confusion, mistakes, files, session)."""
    waiting, session.waiting = session.waiting, False  # True when its Start button queued it
    WAITING.leave(session)  # its turn came: its place in the line is free
    settings = settings or from_process()  # the Train tab passes the app's; tests may leave it out
    req = TrainRequest.from_controls(controls, settings)
    with running(session, request):  # claimed before any work: a second Start is refused at once
        try:
            starts = starting_models(req.names, req.start_from, req.config, session.models, shipped)
            own, held = split_digits(session.digits.snapshot()) if req.include_own else (None, None)
        except RunError as e:
            raise gr.Error(str(e)) from None
        if waiting and session.stop.is_set():  # Stop pressed while it waited: it leaves the queue
            skip = gr.skip()
            yield None, None, "Stopped while waiting for its turn: nothing was trained.", skip, skip, skip, skip
            return
        if not waiting:  # an API call, which has no Start button: only a Stop from now on counts
            session.stop.clear()
        yield from training_stream(Plan(req.names, req.preset, req.config, req.start_from, own, held), session,
                                   starts, settings)


def placed(plan: Plan, data, settings: Settings):
    """Where the run trains (on ZeroGPU: its GPU, within the visitor's quota), or gr.Error."""
    place = gpu.placement(plan.names, data, plan.config, plan.own, plan.held, plan.adaptive,
                          zero_gpu=settings.zero_gpu, mnist=settings.mnist)
    if place.refusal:
        raise gr.Error(place.refusal)
    return place


def rendered(steps, curves: Curves, epochs: int, stop) -> Iterator[tuple | Outcome]:
    """``drive``'s steps as the curves and the progress line: (loss frame, accuracy frame, text), at
    most four a second (and at every epoch, and on Stop); then the Outcome, last."""
    last_ui = 0.0
    for step in steps:
        if isinstance(step, Begun):
            if step.before is not None:  # where it starts: epoch 0 on the curves
                curves.accuracy(step.name, 0, step.before.valid, step.before.held)
        elif isinstance(step, Progress):
            curves.add(step.event)
            now = time.perf_counter()
            if isinstance(step.event, EpochEvent) or now - last_ui >= UI_UPDATE_SECONDS or stop.is_set():
                last_ui = now
                yield (*curves.frames(), progress_line(step.event, epochs, step.eta))
        else:
            yield step


def training_stream(plan: Plan, session: Session, starts: dict, settings: Settings):
    """Train each model in turn, streaming the curves, then keep and offer the results.
    ``settings``: the app's (where MNIST is, whether this is ZeroGPU)."""
    skip = gr.skip()
    yield None, None, "Loading MNIST… (the first time on a new machine this downloads it)", skip, skip, skip, skip
    data = settings.mnist.for_app()
    place = placed(plan, data, settings)
    curves = Curves(plan.names, plan.held is not None and len(plan.held) > 0)
    outcome = None
    for item in rendered(drive(plan, data, starts, session.stop, place), curves, plan.epochs, session.stop):
        if isinstance(item, Outcome):
            outcome = item
        else:
            yield *item, skip, skip, skip, skip
    accuracy = {n: f.valid for n, f in outcome.after.items()}
    if plan.adaptive and not outcome.stopped:  # within a point of MNIST by construction, better on their digits
        session.adopt(outcome.models, accuracy)
        kept = {}
    else:
        kept = session.keep_better(outcome.models, accuracy)
    choices = outcome.choices
    files = weights_files(outcome.models, {
        n: run_metadata(plan.config, f"{plan.preset}, trained in the app", data, outcome.last.get(n), plan.start_from,
                        plan.own, plan.held) | (choices[n].metadata() if n in choices else {})
        for n in outcome.models}, session)
    held = len(plan.held) if plan.held is not None else 0
    text = verdict(outcome, plan.config, held, kept)
    text += "".join(f" {MODEL_TITLES[n]}: {c.sentence()}." for n, c in choices.items())
    yield (*curves.frames(), text, confusion_section(outcome.evaluations, "Your"),
           mistakes_html(outcome.evaluations, data.x_valid), files, session)


# ---------------------------------------------------------------------------- controls and layout


def slider_minimum(low: float, step: float) -> float:
    """The smallest value on the slider's grid: Gradio's slider steps from its minimum, so a
    minimum off the grid would put the defaults (64, 10,000...) between two stops."""
    return math.ceil(low / step) * step


def control(name: str, settings: Settings, **kw) -> gr.Component:
    """The Train tab's control for one TrainConfig field: its kind, limits, step and label from
    the field's Setting, its maximum clipped by the host's caps, its value the default preset's."""
    rule, value = setting_of(name), getattr(PRESETS[DEFAULT_PRESET], name)
    if rule.choices:
        return gr.Radio(list(rule.choices), value=value, label=rule.label, **kw)
    if isinstance(value, bool):
        return gr.Checkbox(value, label=rule.label, **kw)
    high = min(rule.high, {"epochs": settings.max_epochs, "limit": settings.max_digits}.get(name, rule.high))
    value = high if value is None else min(value, high)  # no limit: every digit the host allows
    if rule.step and slider_minimum(rule.low, rule.step) < high:
        return gr.Slider(slider_minimum(rule.low, rule.step), high, value=value, step=rule.step, label=rule.label,
                         **kw)
    if rule.step:  # the host allows one value only (MNIST_MAX_EPOCHS=1): a slider cannot span nothing
        return gr.Number(high, label=f"{rule.label} (set by the host)", interactive=False, **kw)
    return gr.Number(value, label=rule.label, minimum=rule.low, maximum=high,
                     precision=0 if isinstance(value, int) else None, **kw)


def target_control() -> gr.Number:
    """The target accuracy in %, 0 for none: TrainConfig's target_acc is a fraction."""
    rule = setting_of("target_acc")
    return gr.Number(0, label=rule.label, minimum=100 * rule.low, maximum=100 * rule.high, elem_id="train-target")


def within_caps(cfg: TrainConfig, settings: Settings) -> TrainConfig:
    """A preset cut to the host's caps on epochs and training digits (a limit of 0 is "all")."""
    return dataclasses.replace(cfg, epochs=min(cfg.epochs, settings.max_epochs),
                               limit=min(cfg.limit or settings.max_digits, settings.max_digits))


def on_preset(settings: Settings, name: str):
    """A preset's help and its values, for the controls it sets."""
    cfg = within_caps(PRESETS.get(name, PRESETS["tutorial"]), settings)
    return gr.Dropdown(info=PRESET_HELP.get(name, "")), cfg.lr, cfg.schedule, cfg.epochs, cfg.limit


def preset_for(start_from: str) -> str:
    """Trained weights are fine-tuned; new ones get the default (quick) preset."""
    return DEFAULT_PRESET if start_from == NEW else "fine-tune"


def accept_start_where(settings: Settings, session: Session, where: str):
    """Start reached the server (run at once, before the queue). With "This device" chosen the
    page's trainer answers Start itself, so this Start came before its scripts loaded: the
    validator below is told to refuse it, once, and the progress line under Start says why (the
    validator's sentence sits on the Model choice, out of view on a phone)."""
    session.device_chosen = where == DEVICE
    if session.device_chosen:
        return not_ready(settings)
    accept_start(session)
    return gr.skip()


def admit_training(settings: Settings, session: Session, *controls) -> list[dict]:
    """Gradio's validator for the training event, run before it enters the queue: a place in the
    line of waiting trainings, or the sentence saying why not (shown on the Model choice)."""
    device_chosen, session.device_chosen = session.device_chosen, False  # an API call sends no choice
    problem = not_on_server(settings, DEVICE if device_chosen else SERVER) or \
        WAITING.admit(session, settings.max_waiting_trainings, settings.max_trainings)
    return [gr.validate(True, ""), gr.validate(problem is None, problem or ""),
            *(gr.validate(True, "") for _ in controls[1:])]


def offer_swap(session: Session) -> gr.Button:
    """After a run that scored below the weights kept, the visitor may still choose it."""
    return gr.Button(visible=bool(session.set_aside))


def swap_weights(session: Session):
    """Swap "my trained weights" with the ones set aside, and say which are in use now."""
    swapped = session.use_set_aside()
    if not swapped:
        return "Nothing to swap: train first.", gr.Button(visible=False)
    said = "; ".join(f"{MODEL_TITLES[n]} now answers with the weights at {now:.2%} (the ones at {other:.2%} are "
                     f"set aside: press again to switch back)" for n, (now, other) in swapped.items())
    return said + ".", gr.Button(visible=True)


def shipped_evaluation(shipped_models: dict, mnist: MnistSource):
    return evaluation_outputs(shipped_models, "Shipped", mnist)


def train_tab(session: gr.State, settings: Settings, shipped_models: dict, draw: DrawTab) -> None:
    """Lay out the Train tab and wire its events (called inside ``gr.Tab``). A finished training
    goes to the Draw tab's pad: kept in the browser, and answering at once where chosen."""
    gr.Markdown("Retrain the tutorial's models here. Your training stays yours: the shipped models, and "
                "what every other visitor sees, never change.")
    c = {}  # the controls, by their CONTROLS name
    with gr.Row():
        with gr.Column(scale=1, min_width=280):
            # page_trainer.js reads it; Start sends it only so that a Start the page could not answer
            # yet is refused (NOT_READY). interactive: Gradio would otherwise draw it disabled.
            where = gr.Radio(where_choices(settings), value=DEVICE, label="Train on", elem_id="train-where",
                             interactive=True, visible=settings.server_training,  # else one choice: no choice
                             info="This device: your browser trains the models, and the server is not asked while "
                                  "they train. The server: this app's computer trains them, shared with every visitor.")
            c["which"] = gr.Radio(list(MODEL_CHOICES), value="both", label="Model", elem_id="train-model")
            c["start_from"] = gr.Radio(list(START_FROM), value=NEW, label="Start from",
                                       elem_id="train-start-from",
                                       info="Trained weights are fine-tuned: the preset switches to “fine-tune”.")
            c["include"] = gr.Checkbox(False, label="Include my digits (kept in the Draw tab; a quarter held out "
                                                    "to measure the result)", elem_id="train-include")
            c["preset"] = gr.Dropdown(list(PRESETS), value=DEFAULT_PRESET, label="Preset",
                                      info=PRESET_HELP[DEFAULT_PRESET], elem_id="train-preset")
            c["subset"] = control("limit", settings, elem_id="train-subset")
            c["epochs"] = control("epochs", settings, elem_id="train-epochs")
            with gr.Accordion("More settings", open=False):
                # page_trainer.js reads them by their ids
                for name in ("lr", "batch_size", "optimizer", "schedule", "seed", "augment"):
                    c[name] = control(name, settings, elem_id=f"train-{name.replace('_', '-')}")
                c["target"] = target_control()
        with gr.Column(scale=2):
            # Start and Stop above the curves: in view beside the settings on a laptop's screen,
            # and right after them on a phone, where the columns stack.
            with gr.Row():
                start = gr.Button("Start training", variant="primary", elem_id="train-start")
                stop = gr.Button("Stop", elem_id="train-stop")
            swap = gr.Button("Use the other weights instead", visible=False, elem_id="train-swap")
            # This device's run: no Gradio event, the page trains (page/page_trainer.js).
            gr.HTML(None, elem_id="page-trainer-box", html_template=page_file("page_trainer.html"),
                    js_on_load=page_file("page_trainer.js"), head=train_head(), apply_default_css=False,
                    setup=trainer_setup(settings), shipped=shipped_urls())
            progress = gr.Markdown("Set the options and press **Start training**.", elem_id="train-progress")
            loss_plot = gr.LinePlot(x="epoch", y="loss", color="curve", label="Loss (training smoothed)",
                                    elem_id="loss-plot", height=300, color_map=LOSS_COLOURS)
            acc_plot = gr.LinePlot(x="epoch", y="accuracy", color="model", label="Validation accuracy (%)",
                                   elem_id="acc-plot", height=220, color_map=ACC_COLOURS)
    with gr.Accordion("After training: confusion matrices and mistakes", open=True):
        shipped_button = gr.Button("Show them for the shipped models")
        confusion = gr.HTML(elem_id="confusion")
        mistakes = gr.HTML(elem_id="mistakes")
        download = gr.File(label="Download your trained weights (.safetensors)", file_count="multiple",
                           interactive=False, elem_id="download")

    quiet = QUIET
    preset, start_from = c["preset"], c["start_from"]
    preset.change(bind(on_preset, settings), preset,  # its help: the chosen preset's
                  [preset, c["lr"], c["schedule"], c["epochs"], c["subset"]], **quiet)
    start_from.change(preset_for, start_from, preset, **quiet)

    def start_training(session: Session, request: gr.Request, *controls):
        """run_training with this app's settings and shipped models. Not a functools.partial:
        Gradio cannot read a partial's gr.Request annotation, and would then pass no request."""
        yield from run_training(session, request, *controls, settings=settings, shipped=shipped_models)

    start.click(bind(accept_start_where, settings), [session, where], progress, queue=False,
                api_visibility="private").then(
        start_training, [session, *(c[name] for name in CONTROLS)],
        [loss_plot, acc_plot, progress, confusion, mistakes, download, session],
        api_name="train", concurrency_limit=settings.max_trainings, concurrency_id="train",
        # The validator takes a place in the line before the queue. preprocess=False: the values
        # reach TrainRequest as sent, which refuses anything out of bounds with its own sentence
        # (a component's refusal there would surface to API clients as a bare HTTP 400).
        validator=bind(admit_training, settings), preprocess=False,
        show_progress="full", show_progress_on=[progress]).then(  # queued visitors see their place there
        offer_swap, session, swap, **quiet).then(
        bind(send_trained, draw.shipped_page), [session, *draw.choices], draw.pad, **quiet)
    swap.click(swap_weights, session, [progress, swap], **quiet).then(
        bind(send_trained, draw.shipped_page), [session, *draw.choices], draw.pad, **quiet)
    stop.click(stop_session, session, None, queue=False, api_visibility="private")
    shipped_button.click(bind(shipped_evaluation, shipped_models, settings.mnist), None,
                         [confusion, mistakes], api_visibility="private")
