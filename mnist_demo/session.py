"""A visitor's browser session, as the app keeps it in a ``gr.State``: the models they trained
(with each one's validation accuracy), the flags their Start and Stop buttons set, the digits they
kept (and their last test on them), and the folder holding their download files. Everything here
ends with the session."""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field

import gradio as gr

from . import downloads
from .collection import Collection


@dataclass
class ClassRun:
    """A class training's result (classes/training.py): the models, and the notes they are given
    to the class with (what they scored before and after)."""
    models: dict
    notes: dict[str, dict[str, str]]


@dataclass
class ClassSeat:
    """This page's place in a class (the classes package): a student's, a teacher's or a wall's. The
    class itself is in the classroom's database; this holds only what names it, and the class
    model this page has loaded."""
    code: str | None = None  # the class this page joined, as a student
    student: str | None = None  # its anonymous id in that class
    teaching: str | None = None  # the class this page teaches (its teacher link was used)
    teacher_token: str | None = None  # that link's token: replaced, it no longer opens the controls
    wall: str | None = None  # the wall token this page shows (a projector)
    base_url: str = ""  # the app's address as the students reach it: join links are made from it
    seen: int = -1  # the class's version last drawn on this page
    model_version: int = 0  # the class model loaded below (0: none)
    models: dict = field(default_factory=dict)  # "our class's model", by model name
    model_page: dict = field(default_factory=dict)  # the same, as the pad receives it
    model_meta: dict = field(default_factory=dict)  # its recorded figures, by model name (the wall shows them)
    chosen: list = field(default_factory=list)  # the models this student answers with the class's model
    refusal: tuple | None = None  # (code, "locked" | "removed" | "ended"): the class that refused or dropped this page
    class_run: ClassRun | None = None  # the teacher's last class training, until given to the class
    former: dict = field(default_factory=dict)  # {code: the student id this page had before it left}: joining
    # that class again gives it back (store.Classroom.join), with its keep bucket


class Session:
    """Per browser session. Download folders: one subfolder per kind (weights, digits), replaced
    each time, all removed with the session."""

    def __init__(self):
        self.models: dict = {}  # "my trained weights", by model name
        self.accuracy: dict[str, float] = {}  # each of those models' validation accuracy
        self.set_aside: dict[str, tuple] = {}  # (model, accuracy) of a last run that scored lower
        self.stop = threading.Event()
        self._training = threading.Lock()  # held while this session trains: one training per tab
        self.waiting = False  # its Start was pressed and the training waits in the queue
        # Its Start reached the server with "This device" chosen: the page's trainer, which answers
        # that Start itself, had not loaded. The training's validator refuses it once (ui_train).
        self.device_chosen = False
        self.digits = Collection()
        self.tested: dict | None = None
        self.downloads: str | None = None  # its folder's name under downloads.ROOT, once it has one
        self.seat = ClassSeat()  # its class, if any

    @property
    def running(self) -> bool:
        return self._training.locked()

    def claim_training(self) -> bool:
        """Take this session's one training slot; False if a training holds it already (two Starts
        at once, from a double tap or two API calls, cannot both pass a check and then both run)."""
        return self._training.acquire(blocking=False)

    def release_training(self) -> None:
        self._training.release()

    def keep_better(self, trained: dict, accuracy: dict[str, float]) -> dict[str, float]:
        """Make each newly trained model this session's, unless the one it already has scored a
        higher validation accuracy: a stopped or worse run never silently replaces a better model.
        Returns the earlier accuracy of each model kept instead of the new one."""
        kept, self.set_aside = {}, {}
        for name, model in trained.items():
            if self.accuracy.get(name, -1.0) > accuracy[name]:
                kept[name] = self.accuracy[name]
                self.set_aside[name] = (model, accuracy[name])
            else:
                self.models[name], self.accuracy[name] = model, accuracy[name]
        return kept

    def adopt(self, trained: dict, accuracy: dict[str, float]) -> None:
        """Make these models this session's whatever the earlier ones scored: a fine-tune on the
        visitor's own digits trades a little MNIST accuracy (a point at most) for their style."""
        self.set_aside = {}
        for name, model in trained.items():
            self.models[name], self.accuracy[name] = model, accuracy[name]

    def use_set_aside(self) -> dict[str, tuple[float, float]]:
        """The visitor chose the last run's weights over the better earlier ones: swap them (the
        earlier ones are set aside in turn, so the choice can be undone). Returns, by model, the
        accuracy now in use and the one set aside."""
        swapped = {}
        for name, (model, accuracy) in list(self.set_aside.items()):
            self.set_aside[name] = (self.models[name], self.accuracy[name])
            self.models[name], self.accuracy[name] = model, accuracy
            swapped[name] = (accuracy, self.set_aside[name][1])
        return swapped

    def new_downloads(self, kind: str = "weights") -> str:
        """A fresh, empty folder for this kind of download (the last one's files are removed)."""
        if self.downloads is None:
            self.downloads = downloads.new_owner()
        return str(downloads.new_folder(self.downloads, kind))

    def remove_downloads(self) -> None:
        if self.downloads:
            downloads.remove(self.downloads)
            self.downloads = None

    def __deepcopy__(self, memo):  # gr.State copies its default per session: give a fresh one
        return Session()


# Trainings under way, by browser session: closing the tab stops that session's training.
RUNNING: dict[str, Session] = {}


class TrainingLine:
    """The trainings admitted to the queue and not started yet: at most one per session, and at
    most ``capacity`` in all, checked before a training enters the queue. Every visitor's cheap
    events (keep, /classify, Look inside) share that queue, so no visitor, and no crowd of made-up
    sessions, can fill it with trainings. An entry whose training never starts (its client went
    away) is forgotten after ``max_wait`` seconds."""

    def __init__(self, max_wait: float = 3600.0):
        self.max_wait = max_wait
        self._waiting: dict[Session, float] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._waiting)

    def admit(self, session: Session, capacity: int, slots: int, now: float | None = None) -> str | None:
        """Take the session's training into the line; or the sentence saying why not."""
        now = time.monotonic() if now is None else now
        with self._lock:
            for old in [s for s, since in self._waiting.items() if now - since > self.max_wait]:
                del self._waiting[old]
            if session.running or session in self._waiting:
                return "A training is already waiting or running in this tab: stop it first."
            if len(self._waiting) >= capacity:
                minutes = max(1, math.ceil(len(self._waiting) / slots))  # about a minute a training
                return (f"{len(self._waiting)} trainings are already waiting for this server: try again in "
                        f"about {minutes} minute{'s' * (minutes > 1)}. Drawing, keeping and testing work meanwhile.")
            self._waiting[session] = now
            return None

    def leave(self, session: Session) -> None:
        """Its training started, or its session ended."""
        with self._lock:
            self._waiting.pop(session, None)


WAITING = TrainingLine()


def stop_session(session: Session | None) -> None:
    if session is not None:
        session.stop.set()


def close_session(session: Session | None) -> None:
    """The browser session is gone: stop its training and remove its download files."""
    if session is not None:
        session.stop.set()
        session.remove_downloads()
        WAITING.leave(session)


def accept_start(session: Session) -> None:
    """Start was pressed (run at once, before the queue): a Stop from now on applies to this
    training, even while it still waits for its turn."""
    if not session.running:
        session.stop.clear()
        session.waiting = True


def stop_on_tab_close(request: gr.Request) -> None:
    stop_session(RUNNING.get(request.session_hash))
