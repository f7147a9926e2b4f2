"""A visitor's browser session, as the app keeps it in a ``gr.State``: the models they trained
(with each one's validation accuracy), the flags their Start and Stop buttons set, the digits they
kept (and their last test on them), and the folder holding their download files. Everything here
ends with the session."""

from __future__ import annotations

import glob
import os
import shutil
import tempfile
import threading

import gradio as gr

from .collection import Collection


class Session:
    """Per browser session. Download folders: one subfolder per kind (weights, digits), replaced
    each time, all removed with the session."""

    def __init__(self):
        self.models: dict = {}  # "my trained weights", by model name
        self.accuracy: dict[str, float] = {}  # each of those models' validation accuracy
        self.set_aside: dict[str, tuple] = {}  # (model, accuracy) of a last run that scored lower
        self.stop = threading.Event()
        self.running = False
        self.waiting = False  # its Start was pressed and the training waits in the queue
        self.digits = Collection()
        self.tested: dict | None = None
        self.downloads: str | None = None

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
            self.downloads = tempfile.mkdtemp(prefix="mnist-session-")
        for old in glob.glob(os.path.join(self.downloads, f"{kind}-*")):
            shutil.rmtree(old, ignore_errors=True)
        return tempfile.mkdtemp(prefix=f"{kind}-", dir=self.downloads)  # a new name: no stale cached copy

    def remove_downloads(self) -> None:
        if self.downloads:
            shutil.rmtree(self.downloads, ignore_errors=True)
            self.downloads = None

    def __deepcopy__(self, memo):  # gr.State copies its default per session: give a fresh one
        return Session()


# Trainings under way, by browser session: closing the tab stops that session's training.
RUNNING: dict[str, Session] = {}


def stop_session(session: Session | None) -> None:
    if session is not None:
        session.stop.set()


def close_session(session: Session | None) -> None:
    """The browser session is gone: stop its training and remove its download files."""
    if session is not None:
        session.stop.set()
        session.remove_downloads()


def accept_start(session: Session) -> None:
    """Start was pressed (run at once, before the queue): a Stop from now on applies to this
    training, even while it still waits for its turn."""
    if not session.running:
        session.stop.clear()
        session.waiting = True


def stop_on_tab_close(request: gr.Request) -> None:
    stop_session(RUNNING.get(request.session_hash))
