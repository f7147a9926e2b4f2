"""The class's own model: both shipped models fine-tuned on the class's drawings with the
own-digits recipe (a quarter held out to measure it), the curves streamed to the teacher with the
class's words, the before/after figures, and "Give it to the class" (every student's pad offers it).
"""

from __future__ import annotations

import re

import gradio as gr

from ..driver import SHIPPED_START, Outcome, Plan, drive, starting_models
from ..models import MODEL_NAMES, MODEL_TITLES
from ..presets import PRESETS
from ..session import ClassRun, Session
from ..settings import Settings
from ..ui_train import ACC_COLOURS, Curves, placed, rendered, running, within_caps
from ..weights import weights_to_bytes
from .store import STUDENT_SECONDS, Classroom, class_digits
from .teacher import teacher_code
from .views import class_model_summary, too_few_to_train


def train_class(classroom: Classroom, settings: Settings, shipped: dict, session: Session,
                request: gr.Request | None = None):
    """Fine-tune both shipped models on the class's drawings with the own-digits recipe (a quarter
    held out to measure it), streaming the curves; the result waits for "Give it to the class".
    It trains in the teacher's tab, as a Train tab training would: one at a time, stopped by Stop
    or by closing the tab."""
    code = teacher_code(classroom, session)
    digits = class_digits(classroom, code)
    skip = gr.skip()
    with running(session, request):
        session.stop.clear()
        own, held = digits.split()
        problem = too_few_to_train(own, held)
        try:
            data = None if problem else settings.mnist.for_app()
        except gr.Error as e:
            problem = e.message
        if problem:  # said where the teacher looks, and stays: not a passing notice over "Error"
            yield skip, skip, f"⚠️ {problem}", gr.Button(visible=HIDDEN)
            return
        plan = Plan(MODEL_NAMES, "fine-tune", within_caps(PRESETS["fine-tune"], settings), SHIPPED_START, own, held)
        starts = starting_models(plan.names, plan.start_from, plan.config, {}, shipped)
        curves, outcome, frames = Curves(plan.names, True), None, (None, None)
        steps = drive(plan, data, starts, session.stop, placed(plan, data, settings))
        for item in rendered(steps, curves, plan.epochs, session.stop):
            if isinstance(item, Outcome):
                outcome = item
            else:
                frames = (item[0], class_curves(item[1]))
                yield *frames, class_progress(item[2]), gr.Button(visible=HIDDEN)
        best = best_held(curves.frames()[1])
        notes = {n: {"held_before": f"{outcome.before[n].held:.6f}", "held_after": f"{outcome.after[n].held:.6f}",
                     "valid_before": f"{outcome.before[n].valid:.6f}", "valid_after": f"{outcome.after[n].valid:.6f}",
                     "valid_acc": f"{outcome.after[n].valid:.6f}", "class_drawings": str(len(digits)),
                     "class_held_out": str(len(held))} | ({"held_best": f"{best[n]:.6f}"} if n in best else {})
                 for n in outcome.models}
        session.seat.class_run = ClassRun(outcome.models, notes)
        stopped = "Stopped early. " if outcome.stopped else ""
        yield *frames, (f"{stopped}{class_model_summary(notes)} Press *Give it to the class* to offer it on every "
                        "student's class line (*Use our class’s model*, one tap)."), gr.Button(visible=True)


HELD_SERIES = " · class held-out"  # the class's curve of held-out drawings (the Train tab says "your …")
# "Give it to the class" stays in the page, hidden, until there is a model: the teacher's page
# shows it itself when it trained one (page/class_trainer.js); gone from the page, it could not.
HIDDEN = "hidden"


def class_curves(frame):
    """The Train tab's accuracy frame with the class's names: short ones, so the legend fits."""
    if frame is None or "model" not in getattr(frame, "columns", ()):
        return frame
    frame = frame.copy()
    frame["model"] = frame["model"].str.replace(" · your held-out digits", HELD_SERIES, regex=False)
    return frame


def best_held(frame) -> dict[str, float]:
    """Each model's best point on the class's held-out curve (in the accuracy frame, in %), as a
    fraction: what the curve reached, which the weights kept need not be."""
    best = {}
    if frame is None or "model" not in getattr(frame, "columns", ()):
        return best
    for n in MODEL_NAMES:
        values = frame.loc[frame["model"] == MODEL_TITLES[n] + HELD_SERIES, "accuracy"].dropna()
        if len(values):
            best[n] = float(values.max()) / 100
    return best


def class_progress(text):
    """The Train tab's words, said to a teacher: the class's drawings, not "your digits", and the
    class's model is given with *Give it to the class*, not picked as "my trained weights"."""
    if not isinstance(text, str):
        return text
    text = text.replace(". Your weights are ready: pick “my trained weights” in the Draw tab, or download them "
                        "below.", ". Press *Give it to the class* to put it on every student's pad.")
    text = text.replace(". Download this run's weights below.", ".")
    text = re.sub(r"\byour (\d+ )?(held-out|training) digits", r"the class's \1\2 drawings", text)
    return text.replace("of your digits", "of the class's drawings").replace("your digits", "the class's drawings")


def stop_class_training(session: Session) -> None:
    if session.running:  # the class's training runs in the teacher's tab (train_class)
        session.stop.set()


def publish(classroom: Classroom, session: Session):
    """"Give it to the class": every joined student's pad gets it as a choice within seconds."""
    code = teacher_code(classroom, session)
    run = session.seat.class_run
    if run is None:
        raise gr.Error("Train on the class first.")
    blobs = {n: weights_to_bytes(m, run.notes[n]) for n, m in run.models.items()}
    classroom.publish_model(code, blobs, run.notes)
    return (f"✅ Given to the class. Every student's pad offers *our class’s model* within "
            f"{STUDENT_SECONDS:.0f} seconds. {class_model_summary(run.notes)}")


CLASS_ACC_COLOURS = {n.replace(" · your held-out digits", HELD_SERIES): c for n, c in ACC_COLOURS.items()}
