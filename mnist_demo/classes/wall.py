"""The projector wall (a page opened with ``?wall=TOKEN``, which only shows): redrawn when the
class changes, beside the shipped models' MNIST scores, and the drawings behind a clicked
confusion cell. Its HTML is drawn by views.py.
"""

from __future__ import annotations

import threading

import gradio as gr
import numpy as np

from ..data import MnistSource
from ..evaluation import evaluate_model
from ..inputs import event_fields
from ..models import MODEL_NAMES
from ..session import ClassSeat, Session
from .addresses import join_url
from .store import Classroom
from .teacher import is_locked
from .views import NEWEST_ON_WALL, cell_html, wall_html

WALL_SECONDS = 1.0  # the wall checks for news this often (the bar: on the wall within 2 s)


def open_wall(classroom: Classroom, page, seat: ClassSeat, token: str) -> dict:
    """A page opened with the wall's link: the wall alone, or a sentence where its class is gone."""
    if classroom.code_for_wall(token):
        seat.wall, seat.seen = token, -1
        return page.views(seat, classroom)
    return page.views(seat, classroom) | {page.wall: '<div class="class-wall ended"><h2>That wall\'s class has '
                                                     'ended, or the link is wrong.</h2></div>'}


class ValidationScores:
    """The shipped models' MNIST validation confusion matrices, beside which the wall shows the
    class's. Computed once, in the background: loading MNIST takes seconds, and a wall must not
    wait for it (it shows "–" until they are ready, then redraws)."""

    def __init__(self, models: dict, mnist: MnistSource):
        self.models, self.mnist, self.confusions, self._started = models, mnist, None, threading.Lock()

    def get(self) -> dict[str, np.ndarray] | None:
        if self.confusions is None and self._started.acquire(blocking=False):
            threading.Thread(target=self._compute, daemon=True).start()
        return self.confusions

    def _compute(self) -> None:
        try:
            data = self.mnist.for_app()
            self.confusions = {n: evaluate_model(m, data).confusion for n, m in self.models.items()}
        except gr.Error:  # no MNIST on this machine: the wall shows the class's figures alone
            self.confusions = {}


def refresh_wall(classroom: Classroom, scores: ValidationScores, session: Session):
    """The wall, every second: redrawn only when the class changed (a keep, a removal, a model)."""
    seat = session.seat
    code = classroom.code_for_wall(seat.wall) if seat.wall else None
    if code is None:
        if seat.wall is None:
            return gr.skip(), gr.Timer(active=False)
        seat.wall = None
        return '<div id="class-wall" class="class-wall ended"><h2>This class has ended.</h2></div>', \
            gr.Timer(active=False)
    valid = scores.get()
    version = classroom.version(code) * 2 + (valid is not None)  # redrawn when MNIST's scores arrive too
    if version == seat.seen:
        return gr.skip(), gr.skip()
    seat.seen = version
    model_version = classroom.model_version(code)
    if seat.model_version != model_version:  # its figures are read again only when it changes
        seat.model_version, seat.model_meta = model_version, classroom.class_model_notes(code)
    held = classroom.held_count(code) if classroom.wall_paused(code) is not None else None
    return wall_html(code, classroom.wall_answers(code), classroom.wall_newest(code, NEWEST_ON_WALL), valid,
                     join_url(seat, code), seat.model_meta or None, held, is_locked(classroom, code)), gr.skip()


def wall_cell(classroom: Classroom, session: Session, evt: gr.EventData):
    """The drawings behind a clicked confusion cell ("<model> <true> <said>")."""
    code = classroom.code_for_wall(session.seat.wall) if session.seat.wall else None
    try:
        name, true, said = str(event_fields(evt).get("cell", "")).split()
        true, said = int(true), int(said)
        if code is None or name not in MODEL_NAMES:
            raise ValueError(name)
    except ValueError:
        raise gr.Error("That cell is gone: the wall has changed.") from None
    return cell_html(classroom.wall_drawings(code), name, true, said)  # none the paused wall holds back
