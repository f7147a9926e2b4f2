"""The Class tab, and the projector wall: a teacher starts a class, students join by link or code,
what they keep also goes to the class, the wall shows it, and the class trains its own model.

Three kinds of page, told apart by the address they were opened with:
- ``?class=CODE``: a student's join link (or the code typed in this tab);
- ``?teach=TOKEN``: the teacher's private link, the way back to the controls;
- ``?wall=TOKEN``: the projector wall, which only shows (its token grants nothing else).

Everything a class owns is in the classroom's SQLite database (classroom.py); a page holds only
its ``ClassSeat`` (session.py) and, in the browser, which class it is in (page/class_seat.js,
in localStorage), so a reload or a restarted server finds its class again. The HTML is drawn by class_wall.py.
"""

from __future__ import annotations

import functools
import inspect
import re
import sqlite3
import threading
import time
import urllib.parse

import gradio as gr
import numpy as np

from . import lan
from .class_wall import NEWEST_ON_WALL, cell_html, join_card, spaced, teacher_drawings_html, wall_html
from .classroom import NOT_IN_CLASS, ClassError, Classroom, normalize_code, to_digits
from .collection import Collection, CollectionError, Digits
from .data import PIXEL_SCALE, mnist_or_error
from .digit_files import write_idx_pair, write_png_zip
from .evaluation import evaluate_model
from .inference import Predictor
from .inputs import CLASS, SHIPPED, digits_from_page, event_fields
from .models import MODEL_NAMES, MODEL_TITLES
from .page_assets import page_file, page_weights
from .presets import PRESETS
from .session import ClassSeat, Session
from .settings import Settings
from .ui_draw import DrawTab, page_models, weights_options
from .ui_train import (
    ACC_COLOURS,
    LOSS_COLOURS,
    TrainRequest,
    own_digits,
    running,
    starting_models,
    starting_point,
    training_stream,
    within_caps,
)
from .weights import WeightsError, weights_from_bytes, weights_to_bytes

WALL_SECONDS = 1.0  # the wall checks for news this often (the bar: on the wall within 2 s)
TEACHER_SECONDS = 2.0  # the teacher's list of drawings
# A student's page asks whether the class has a new model (the bar: within 10 s). Each ask is an
# event of Gradio's, ~20 ms of the server's CPU: a class of 60 at 8 s costs a sixth of a core.
STUDENT_SECONDS = 8.0


# ---------------------------------------------------------------------------- addresses


def client_of(request: gr.Request | None) -> str:
    """Who is guessing codes, for the classroom's rate limit: the first forwarded address (a
    Space's proxy), else the connection's."""
    if request is None:
        return "local"
    forwarded = (request.headers.get("x-forwarded-for") or "").split(",")[0].strip()
    return forwarded or getattr(request.client, "host", None) or "unknown"


def base_url(request: gr.Request | None) -> str:
    """The app's address as students reach it. A teacher on the serving laptop opens it as
    localhost, which no phone can reach: then the laptop's network address, when it serves the
    network (app.py --host 0.0.0.0)."""
    if request is None:
        return "http://localhost:7860/"
    headers = request.headers
    host = headers.get("x-forwarded-host") or headers.get("host") or "localhost"
    scheme = headers.get("x-forwarded-proto") or request.url.scheme
    name, _, port = host.rpartition(":") if host.count(":") == 1 else (host, "", "")
    if name in ("localhost", "127.0.0.1") and lan.SERVING_LAN and lan.local_addresses():
        return f"http://{lan.local_addresses()[0]}:{port or 7860}/"
    return f"{scheme}://{host}/"


def join_url(seat: ClassSeat, code: str) -> str:
    return f"{seat.base_url}?class={code}"


# ---------------------------------------------------------------------------- what the pages show


REFUSALS = {  # what the Class tab says when a class refused or dropped this page (its line says it too)
    "locked": "**Class {code} is not taking new students right now.** Ask your teacher to unlock joining, then "
              "scan the code or open the join link again.",
    "removed": "**Your teacher took you out of class {code}.** Your own digits are still in this browser.",
    "ended": "**Class {code} has ended.** Your own digits are still in this browser.",
    "full": "**Class {code} is full:** it has as many students as it can take. Tell your teacher.",
}


def student_text(seat: ClassSeat, note: str = "") -> str:
    if seat.teaching and not seat.code:
        return (f"**You teach class {spaced(seat.teaching)}.** Its join link, wall and controls are below. "
                f"{note}").strip()
    if not seat.code:
        if seat.refusal:
            code, why = seat.refusal
            return f"{REFUSALS[why].format(code=spaced(code))} {note}".strip()
        return note or "You are not in a class. Type the code your teacher shows, or open their join link."
    return (f"**You are in class {spaced(seat.code)}.** Every digit you keep also goes to the class, without "
            f"your name; no one else's drawings are shown here. {note}").strip()


def teacher_links(seat: ClassSeat, classroom: Classroom) -> str:
    """The join card, the wall's link, and the teacher's private link folded away: a teacher's
    screen is often mirrored on the projector, so the link shows only after *Show* (a <details>:
    the link is in the page, with its href, but not drawn until then)."""
    code = seat.teaching
    teacher = f"{seat.base_url}?teach={seat.teacher_token}"
    wall = f"{seat.base_url}?wall={classroom.wall_token(code)}"
    return (f'<div class="teacher-card">{join_card(code, join_url(seat, code))}'
            f'<p><a id="class-wall-link" href="{wall}" target="_blank" rel="noopener">Open the wall</a> '
            f'on the projector: it shows the drawings and scores, and grants nothing else.</p>'
            f'<details class="private" id="class-teacher-private"><summary>Show your private teacher link'
            f'</summary><p>The way back to these controls from any device: <a id="class-teacher-link" '
            f'href="{teacher}">{teacher}</a>. Do not project it; if it was seen, press <i>New teacher link</i>.'
            f'</p></details>{loopback_warning(seat.base_url)}</div>')


def loopback_warning(base: str) -> str:
    """A join link that only this computer can open (the app serves itself alone): say so, and how
    to serve the network, before thirty phones fail to open it."""
    host = urllib.parse.urlsplit(base).hostname or ""
    if host not in ("localhost", "127.0.0.1", "::1"):
        return ""
    return ('<p class="loopback-warning" role="alert"><b>Phones cannot open this link:</b> this computer serves '
            'the app to itself only. Start it with <code>python app.py --host 0.0.0.0</code> and open the '
            'address it prints, or host it on a Space (README, Hosting).</p>')


# ---------------------------------------------------------------------------- joining and leaving


class ClassPage:
    """The components the class handlers update, named once; ``views`` fills them from a seat."""

    def __init__(self, **components):
        self.__dict__.update(components)

    def student_outputs(self) -> list:
        """What a student's page shows of the class: the Class tab's text and controls, the seat the
        browser keeps (the pad's class line is drawn from it), and the pad's models and choices."""
        return [self.status, self.join_box, self.leave, self.code, self.student_timer, self.stored,
                self.pad, *self.choices]

    def outputs(self) -> list:
        """Never the columns or tabs that hold the pad: an update to one of those mounts the pad
        again, losing a drawing under way. A wall page hides the app with CSS instead, and a
        teacher's link opens the Class tab from the page (page/class_seat.js)."""
        return [*self.student_outputs(), self.start, self.teacher_view, self.teacher_card, self.lock,
                self.teacher_drawings, self.teacher_timer, self.exported, self.wall, self.wall_timer]

    def student_views(self, seat: ClassSeat, classroom: Classroom, note: str = "") -> dict:
        joined = bool(seat.code)
        return {
            self.status: student_text(seat, note),
            self.join_box: gr.Group(visible=not joined and not seat.teaching),
            self.leave: gr.Button(visible=joined),
            # A code box left holding the last code would make typing it again a malformed code.
            self.code: gr.Textbox(value="") if joined else gr.skip(),
            self.student_timer: gr.Timer(active=joined),
            self.stored: gr.HTML(seat=stored_seat(seat, classroom)),
        }

    def views(self, seat: ClassSeat, classroom: Classroom, note: str = "") -> dict:
        teaching, walling = seat.teaching, seat.wall is not None
        out = self.student_views(seat, classroom, note) | {
            self.start: gr.Button(visible=not teaching),
            self.teacher_view: gr.Column(visible=bool(teaching)),
            self.teacher_timer: gr.Timer(active=bool(teaching)),
            self.wall_timer: gr.Timer(active=True) if walling else gr.skip(),
        }
        if teaching:
            seat.seen = -1  # the next tick redraws the drawings
            out[self.teacher_card] = teacher_links(seat, classroom)
            out[self.lock] = gr.Button("Unlock joining" if is_locked(classroom, teaching) else "Lock joining")
            out[self.teacher_drawings] = teacher_list(classroom, teaching)
        else:
            out |= {self.teacher_card: gr.skip(), self.lock: gr.skip(), self.teacher_drawings: gr.skip()}
        out[self.wall] = gr.skip() if not walling or seat.seen != -1 else \
            '<div class="class-wall loading"><h2>Opening the wall…</h2></div>'
        return out


def stored_seat(seat: ClassSeat, classroom: Classroom) -> dict:
    """What the browser keeps of this page's class (page/class_store.js): the class and this
    student's id in it, or the class that refused or dropped them, and why; whether it has a model."""
    teacher = seat.teacher_token if seat.teaching else None
    if seat.code:
        code, student, state = seat.code, seat.student, "joined"
    elif seat.refusal:
        (code, state), student = seat.refusal, None
    else:
        code = student = state = None
    return {"code": code, "student": student, "teacher": teacher, "state": state, "model": seat.model_version}


def join(classroom: Classroom, seat: ClassSeat, code: str, request: gr.Request | None) -> str:
    """Join the class of ``code``; the sentence to show (why not, or nothing). A class that is
    locked, full or ended is remembered as this page's refusal: its line says so on the Draw tab."""
    code = normalize_code(code)
    if seat.code == code and classroom.is_member(code, seat.student):
        return ""
    try:
        student = classroom.join(code, client_of(request))
    except ClassError as e:
        if e.kind in REFUSALS and not seat.code:  # one in a class stays in it (an old QR code scanned)
            leave(seat)
            seat.refusal = (code, e.kind)
            return ""  # the refusal's own words say it, on both tabs
        return f"⚠️ {e}"
    leave(seat)
    seat.code, seat.student = code, student
    return ""


def leave(seat: ClassSeat, classroom: Classroom | None = None) -> None:
    if classroom is not None and seat.code:
        try:
            classroom.leave(seat.code, seat.student)
        except ClassError:
            pass  # the class ended meanwhile: there is nothing left to leave
    seat.code = seat.student = seat.refusal = None
    seat.model_version, seat.models, seat.model_page, seat.chosen = 0, {}, {}, []


def restore_seat(classroom: Classroom, seat: ClassSeat, stored: dict) -> None:
    """This browser's class, from what the page keeps (a reload, a restarted server, or a session
    the server forgot): joined again if it is still a member; else the reason, kept for its line."""
    code, student, state = (str(stored.get(k) or "") for k in ("code", "student", "state"))
    chosen = stored.get("chosen") if isinstance(stored.get("chosen"), list) else []
    if code and student:
        if classroom.is_member(code, student):
            if seat.code != code or seat.student != student:
                leave(seat)
                seat.code, seat.student = code, student
            seat.chosen = [n for n in MODEL_NAMES if n in chosen]
            return
        leave(seat)
        seat.refusal = (normalize_code(code), "removed" if classroom.summary(code) else "ended")
        return
    if code and state in REFUSALS:
        leave(seat)
        seat.refusal = (normalize_code(code), state)


def open_page(classroom: Classroom, page: ClassPage, shipped_page: dict, session: Session, evt: gr.EventData,
              request: gr.Request):
    """The page opened (page/class_seat.js sends its address's parameters and the class this
    browser kept): a wall, a teacher's link, a join link, or the class this browser was in."""
    seat = session.seat
    seat.base_url = base_url(request)
    data = event_fields(evt)
    params = data.get("params") if isinstance(data.get("params"), dict) else {}
    stored = data.get("stored") if isinstance(data.get("stored"), dict) else {}
    if not any(params.get(k) for k in ("wall", "teach", "class")) and not (stored.get("code") or
                                                                           stored.get("teacher")):
        return dict.fromkeys(page.outputs(), gr.skip())  # not in a class: nothing to change
    note = ""
    if params.get("wall"):
        if classroom.code_for_wall(str(params["wall"])):
            seat.wall, seat.seen = str(params["wall"]), -1
            return page.views(seat, classroom)
        return page.views(seat, classroom) | {page.wall: '<div class="class-wall ended"><h2>That wall\'s class has '
                                                         'ended, or the link is wrong.</h2></div>'}
    teacher = params.get("teach") or stored.get("teacher")
    if teacher:
        seat.teaching = classroom.code_for_teacher(str(teacher))
        seat.teacher_token = str(teacher) if seat.teaching else None
        if params.get("teach") and not seat.teaching:
            note = "⚠️ That teacher link's class has ended (or the link is wrong)."
    restore_seat(classroom, seat, stored)  # this browser's class, first: a reloaded join link must not join twice
    if params.get("class") and normalize_code(str(params["class"])) != seat.code:
        note = join(classroom, seat, str(params["class"]), request) or note  # and on to the Draw tab
    if not (params.get("class") or stored.get("code")):
        return page.views(seat, classroom, note)  # a teacher's page: the pad keeps its models
    if seat.code:
        load_class_model(classroom, seat)  # at once, so that a chosen class model answers after a reload
    return page.views(seat, classroom, note) | pad_after_class_change(page, shipped_page, session, None)


def join_typed(classroom: Classroom, page: ClassPage, shipped_page: dict, session: Session, code: str,
               request: gr.Request):
    note = join(classroom, session.seat, code or "", request)
    if session.seat.code:
        load_class_model(classroom, session.seat)
    return page.views(session.seat, classroom, note) | pad_after_class_change(page, shipped_page, session, None)


def leave_class(classroom: Classroom, page: ClassPage, shipped_page: dict, session: Session):
    """Leave (or put away the line of a class that refused or dropped this page): kept digits stay
    in this browser; those sent stay with the class, without a name."""
    was_in = bool(session.seat.code)
    leave(session.seat, classroom)
    note = "You left the class. The digits you sent stay with it, without your name." if was_in else ""
    return page.views(session.seat, classroom, note) | pad_after_class_change(page, shipped_page, session, None) \
        | {page.code: gr.Textbox(value="")}


def pad_after_class_change(page: ClassPage, shipped_page: dict, session: Session, choices) -> dict:
    """The weights radios (with or without the class's model) and the pad's models to match: the
    class's model for the models this student chose it for, else what was chosen (None: shipped)."""
    seat = session.seat
    options = weights_options(seat)
    values = [CLASS if seat.models and n in seat.chosen else c if choices and c in options else SHIPPED
              for n, c in zip(MODEL_NAMES, choices or [SHIPPED] * len(MODEL_NAMES), strict=True)]
    return {page.pad: gr.HTML(models=page_models(shipped_page, session, values)),
            **{radio: gr.Radio(options, value=v) for radio, v in zip(page.choices, values, strict=True)}}


# ---------------------------------------------------------------------------- a student's page


SENT = {True: "stored", False: "stored before"}


def send_to_class(classroom: Classroom, predictor: Predictor, entry) -> dict:
    """The pad's outbox (page/class_store.js) sends a kept drawing, or a withdrawal of drawings the
    student deleted, with the seat the browser keeps: nothing here depends on this page's server
    session, which a restart or a long outage loses. The drawing's id makes a repeat harmless.

    Returns {"result": "stored" | "stored before" | "retry" | "refused", "state", "message"}: the
    page keeps the entry on "retry" (and on any failed call), and drops it otherwise."""
    try:
        if not isinstance(entry, dict):
            raise ClassError("Expected a kept drawing.")
        code, student = str(entry.get("code") or ""), str(entry.get("student") or "")
        if entry.get("kind") == "withdraw":
            if not isinstance(entry.get("ids"), list):
                raise ClassError("Which drawings? Expected a list of their ids.")
            classroom.withdraw(code, student, entry["ids"])
            return {"result": "stored", "state": "joined", "message": ""}
        pixels, labels, ids = digits_from_page([entry])
        said = entry.get("said") if isinstance(entry.get("said"), dict) else {}
        answers = {n: said.get(n) for n in MODEL_NAMES}
        if not all(type(a) is int and 0 <= a <= 9 for a in answers.values()):  # the shipped models' answers,
            if not classroom.is_member(code, student):  # computed only for a member of a live class
                raise ClassError(NOT_IN_CLASS, "removed")
            result = predictor.predict_batch(pixels[:1] / PIXEL_SCALE)
            answers = {n: int(result[n][0]) for n in MODEL_NAMES}
        stored = classroom.add_drawing(code, student, int(ids[0]), int(labels[0]), answers["linear"],
                                       answers["cnn"], pixels[0].tobytes())
        return {"result": SENT[stored], "state": "joined", "message": ""}
    except CollectionError as e:
        return {"result": "refused", "state": "joined", "message": f"Not sent to the class: {e}"}
    except ClassError as e:
        if e.kind == "slow":
            return {"result": "retry", "state": "joined", "message": str(e)}
        kind = "ended" if e.kind == "removed" and not classroom.summary(entry.get("code")) else e.kind
        state = kind if kind in ("removed", "ended") else "joined"
        return {"result": "refused", "state": state, "message": f"Not sent to the class: {e}"}
    except sqlite3.OperationalError:  # the database is busy (the host's command line holds it): soon
        return {"result": "retry", "state": "joined", "message": "The class's store is busy."}


def class_keep_function(classroom: Classroom, predictor: Predictor):
    """``send_to_class`` as the pad's server function (``server.send_to_class`` in page/pad.js)."""
    send = functools.partial(send_to_class, classroom, predictor)
    send.__name__ = send_to_class.__name__
    return send


def check_class_model(classroom: Classroom, page: ClassPage, shipped_page: dict, session: Session, *choices):
    """A student's page, every few seconds: a newly published class model reaches its pad (offered
    on its class line, and answering at once where this student chose it); a removal or an ended
    class is said so, on both tabs. Nothing is sent when nothing changed (it runs so often)."""
    seat = session.seat
    if not seat.code:
        return {page.student_timer: gr.Timer(active=False)}
    if not classroom.is_member(seat.code, seat.student):
        code = seat.code
        leave(seat)
        seat.refusal = (code, "removed" if classroom.summary(code) else "ended")
        return page.student_views(seat, classroom) | pad_after_class_change(page, shipped_page, session, choices)
    if classroom.model_version(seat.code) == seat.model_version:
        return {page.stored: gr.skip()}
    load_class_model(classroom, seat)
    return {page.stored: gr.HTML(seat=stored_seat(seat, classroom)),
            **pad_after_class_change(page, shipped_page, session, choices)}


def use_class_model(classroom: Classroom, page: ClassPage, shipped_page: dict, session: Session,
                    evt: gr.EventData):
    """The class line's one tap: "Use our class's model" (both models answer with it) or "Back to
    the shipped models". The page sends its stored seat, so this works after the server forgot the
    session too; the page keeps the choice for a reload."""
    data, seat = event_fields(evt), session.seat
    if not seat.code and isinstance(data.get("seat"), dict):
        restore_seat(classroom, seat, data["seat"])
    if data.get("use") and seat.code and not seat.models:
        load_class_model(classroom, seat)
    seat.chosen = list(MODEL_NAMES) if data.get("use") and seat.models else []
    if data.get("use") and not seat.chosen:
        gr.Warning("Your class has no model yet: your teacher gives it to the class after training it.")
    return pad_after_class_change(page, shipped_page, session, None)


def load_class_model(classroom: Classroom, seat: ClassSeat) -> None:
    """The class's published model into this student's seat: their pad answers with it."""
    found = classroom.class_models(seat.code)
    seat.models, seat.model_page = {}, {}
    if found is None:
        seat.model_version = 0
        return
    seat.model_version, blobs, _notes = found
    for name, blob in blobs.items():
        try:
            model, meta = weights_from_bytes(blob, source="the class's weights")
        except WeightsError:
            continue  # written by this app itself: only a damaged database gets here
        seat.models[name] = model.eval()
        seat.model_page[name] = page_weights(model, CLASS, meta)


# ---------------------------------------------------------------------------- the teacher's page


def start_class(classroom: Classroom, page: ClassPage, session: Session, request: gr.Request):
    seat = session.seat
    seat.base_url = base_url(request)
    new = classroom.create_class()
    seat.teaching, seat.teacher_token = new.code, new.teacher_token
    return page.views(seat, classroom) | {page.exported: gr.File(value=None, visible=False)}  # not the last class's


def teaching(classroom: Classroom, seat: ClassSeat) -> str | None:
    """The class this page teaches, while the teacher link it came in with still opens it: a link
    replaced (it was seen on the projector) takes the controls from every page that used it."""
    if seat.teaching and classroom.code_for_teacher(seat.teacher_token or "") != seat.teaching:
        seat.teaching = seat.teacher_token = None
    return seat.teaching


def teacher_code(classroom: Classroom, session: Session) -> str:
    code = teaching(classroom, session.seat)
    if not code:
        raise gr.Error("This class has ended, or its teacher link was replaced: open the current one.")
    return code


def teacher_list(classroom: Classroom, code: str) -> str:
    """The teacher's drawings, those the paused wall holds back marked so."""
    return teacher_drawings_html(classroom.drawings(code), classroom.wall_paused(code))


def refresh_drawings(classroom: Classroom, session: Session):
    """The teacher's list, redrawn only when the class changed."""
    seat = session.seat
    if not teaching(classroom, seat):
        return gr.skip()
    version = classroom.version(seat.teaching)
    if version == seat.seen:
        return gr.skip()
    seat.seen = version
    return teacher_list(classroom, seat.teaching)


def new_teacher_link(classroom: Classroom, page: ClassPage, session: Session):
    """A new teacher link (the old one was seen): the old one opens nothing from now on. This
    page keeps the class, and the browser stores the new link (hidden until *Show*, as before)."""
    code = teacher_code(classroom, session)
    session.seat.teacher_token = classroom.new_teacher_token(code)
    return page.views(session.seat, classroom, "A new private teacher link replaces the old one, which opens "
                                               "nothing now.")


def pause_wall(classroom: Classroom, session: Session):
    """New drawings wait for the teacher before the wall shows them."""
    code = teacher_code(classroom, session)
    classroom.pause_wall(code)
    session.seat.seen = classroom.version(code)
    return teacher_list(classroom, code)


def let_through(classroom: Classroom, session: Session, resume: bool) -> str:
    code = teacher_code(classroom, session)
    classroom.show_held(code, resume=resume)
    session.seat.seen = classroom.version(code)
    return teacher_list(classroom, code)


def show_held(classroom: Classroom, session: Session):
    """The held drawings go to the wall; the next ones are held again."""
    return let_through(classroom, session, False)


def resume_wall(classroom: Classroom, session: Session):
    """The held drawings go to the wall, and every new one again."""
    return let_through(classroom, session, True)


def remove_one(classroom: Classroom, session: Session, evt: gr.EventData):
    code, data = teacher_code(classroom, session), event_fields(evt)
    drawing_id = data.get("id")
    if type(drawing_id) is not int:
        raise gr.Error("Which drawing? Reload the page and try again.")
    if data.get("whose"):
        student = classroom.student_of(code, drawing_id)
        removed = classroom.remove_student(code, student) if student else 0
        gr.Info(f"Removed {removed} drawing{'s' * (removed != 1)} of that student, and took them out of the class.")
    else:
        classroom.remove_drawing(code, drawing_id)
    session.seat.seen = classroom.version(code)
    return teacher_list(classroom, code)


def toggle_lock(classroom: Classroom, session: Session):
    code = teacher_code(classroom, session)
    locked = not is_locked(classroom, code)
    classroom.set_locked(code, locked)
    return gr.Button("Unlock joining" if locked else "Lock joining")


def is_locked(classroom: Classroom, code: str) -> bool:
    summary = classroom.summary(code)
    return bool(summary and summary.locked)


def class_digits(classroom: Classroom, code: str) -> Digits:
    return to_digits(classroom.drawings(code))


def export_class(classroom: Classroom, session: Session):
    """The class's drawings as the Your digits tab writes them: MNIST's IDX pair and a zip of PNGs."""
    code = teacher_code(classroom, session)
    digits = class_digits(classroom, code)
    if not len(digits):
        raise gr.Error("The class has no drawings to export yet.", title="Nothing to export")
    folder = session.new_downloads("class")
    stem = time.strftime(f"class-{code}-%Y%m%d-%H%M%S")
    images, labels = write_idx_pair(digits, folder, stem)
    return gr.File([str(images), str(labels), str(write_png_zip(digits, f"{folder}/{stem}-png.zip"))], visible=True)


def ask_end(classroom: Classroom, session: Session):
    code = teacher_code(classroom, session)
    n = classroom.count(code)
    return gr.Column(visible=True), (f"**End class {spaced(code)}?** This deletes its {n:,} drawing"
                                     f"{'s' * (n != 1)} and its model for good. Export them first if you want "
                                     "to keep them.")


def end_class(classroom: Classroom, page: ClassPage, session: Session):
    code = teacher_code(classroom, session)
    classroom.end_class(code)
    session.seat.teaching = session.seat.teacher_token = None
    return page.views(session.seat, classroom, f"Class {spaced(code)} has ended: everything in it is deleted.") \
        | {page.confirm: gr.Column(visible=False), page.exported: gr.File(value=None, visible=False)}


# ---------------------------------------------------------------------------- the class's model


def train_class(classroom: Classroom, settings: Settings, shipped: dict, session: Session,
                request: gr.Request | None = None):
    """Fine-tune both shipped models on the class's drawings with the own-digits recipe (a quarter
    held out to measure it), streaming the curves; the result waits for "Give it to the class"."""
    code = teacher_code(classroom, session)
    digits = class_digits(classroom, code)
    trainer = Session()
    trainer.digits = Collection(cap=max(len(digits), 1))
    if len(digits):
        trainer.digits.add_many(digits.pixels, digits.labels, digits.ids)
    session.seat.trainer = trainer
    cfg = within_caps(PRESETS["fine-tune"], settings)  # as every training on this server
    req = TrainRequest(MODEL_NAMES, "fine-tune", cfg, "shipped weights", True)
    with running(trainer, request):
        try:
            own, own_held = own_digits(True, trainer)  # gr.Error when the class has no drawings
            if not len(own_held):
                raise gr.Error("Keep a few more drawings first: a quarter of each digit is held out to measure "
                               "the class's model, and there is none yet.")
            data = mnist_or_error()
        except gr.Error as e:  # said where the teacher looks, and stays: not a passing notice over "Error"
            yield gr.skip(), gr.skip(), f"⚠️ {e.message}", gr.Button(visible=False)
            return
        before = {n: starting_point(shipped[n], data, own_held) for n in MODEL_NAMES}
        starts = starting_models(req, trainer, shipped)
        last = None
        for last in training_stream(req, trainer, starts, own, own_held):
            last = (last[0], class_curves(last[1]), class_progress(last[2]))
            yield *last, gr.Button(visible=False)
        if not trainer.models:
            return
        after = {n: starting_point(trainer.models[n], data, own_held) for n in trainer.models}
        best = best_held(last[1])
        trainer.class_meta = {n: {"held_before": f"{before[n][1]:.6f}", "held_after": f"{after[n][1]:.6f}",
                                  "valid_before": f"{before[n][0]:.6f}", "valid_after": f"{after[n][0]:.6f}",
                                  "valid_acc": f"{after[n][0]:.6f}", "class_drawings": str(len(digits)),
                                  "class_held_out": str(len(own_held))}
                                 | ({"held_best": f"{best[n]:.6f}"} if n in best else {})
                              for n in trainer.models}
        stopped = "Stopped early. " if trainer.stop.is_set() else ""
        yield last[0], last[1], (f"{stopped}{class_model_summary(trainer.class_meta)} Press *Give it to the class* "
                                 "to offer it on every student's class line (*Use our class’s model*, one tap)."), \
            gr.Button(visible=True)


FEW_HELD = 20  # held-out drawings below which a class's before/after figures say little (1 in 20 is 5 points)
HELD_SERIES = " · class held-out"  # the class's curve of held-out drawings (the Train tab says "your …")


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


def class_model_summary(meta: dict) -> str:
    """Each model's figures, as given to the class: on the class's held-out drawings and on MNIST
    validation, before (the shipped weights) and after (the weights kept), to one decimal place.
    Where the curve went higher than the weights kept, it says so: the fine-tune keeps the best
    weights that stay within a point of the start on MNIST, not the curve's last or best point."""
    parts = []
    for n, m in meta.items():
        held_before, held_after = float(m["held_before"]), float(m["held_after"])
        held = int(m["class_held_out"]) if str(m.get("class_held_out", "")).isdigit() else None
        count = "" if held is None else f" {held:,}"
        drawings = "drawing" if held == 1 else "drawings"
        text = (f"{MODEL_TITLES[n]}: {held_before:.1%} → {held_after:.1%} on the class's{count} held-out {drawings}, "
                f"MNIST {float(m['valid_before']):.1%} → {float(m['valid_after']):.1%}")
        if held is not None and held < FEW_HELD:
            text += " (too few held-out drawings to say much: keep more, a few of each digit, and train again)"
        best = float(m.get("held_best", "nan"))
        if best >= held_after + 0.0005:
            text += (f" (its curve reached {best:.1%}, but those weights cost MNIST more than a point, so the ones "
                     "kept are these)")
        parts.append(text + ".")
    return " ".join(parts)


def stop_class_training(session: Session) -> None:
    if session.seat.trainer is not None:
        session.seat.trainer.stop.set()


def publish(classroom: Classroom, session: Session):
    """"Give it to the class": every joined student's pad gets it as a choice within seconds."""
    code = teacher_code(classroom, session)
    trainer = session.seat.trainer
    if trainer is None or not getattr(trainer, "class_meta", None):
        raise gr.Error("Train on the class first.")
    blobs = {n: weights_to_bytes(m, trainer.class_meta[n]) for n, m in trainer.models.items()}
    classroom.publish_model(code, blobs, trainer.class_meta)
    return (f"✅ Given to the class. Every student's pad offers *our class’s model* within "
            f"{STUDENT_SECONDS:.0f} seconds. {class_model_summary(trainer.class_meta)}")


CLASS_ACC_COLOURS = {n.replace(" · your held-out digits", HELD_SERIES): c for n, c in ACC_COLOURS.items()}


# ---------------------------------------------------------------------------- the wall


class ValidationScores:
    """The shipped models' MNIST validation confusion matrices, beside which the wall shows the
    class's. Computed once, in the background: loading MNIST takes seconds, and a wall must not
    wait for it (it shows "–" until they are ready, then redraws)."""

    def __init__(self, models: dict):
        self.models, self.confusions, self._started = models, None, threading.Lock()

    def get(self) -> dict[str, np.ndarray] | None:
        if self.confusions is None and self._started.acquire(blocking=False):
            threading.Thread(target=self._compute, daemon=True).start()
        return self.confusions

    def _compute(self) -> None:
        try:
            data = mnist_or_error()
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


# ---------------------------------------------------------------------------- layout and wiring


def bind(fn, *bound):
    """``functools.partial(fn, *bound)`` as Gradio can read it: Gradio finds the ``gr.Request``
    and ``gr.EventData`` it must pass by the handler's own annotations, which a partial hides."""
    @functools.wraps(fn)
    def handler(*args):
        return fn(*bound, *args)
    signature = inspect.signature(fn)
    handler.__signature__ = signature.replace(parameters=list(signature.parameters.values())[len(bound):])
    return handler


def class_tab() -> dict:
    """Lay out the Class tab (called inside ``gr.Tab``). Returns its components, for
    ``wire_class`` to wire once the whole page exists."""
    c = {}
    gr.Markdown("Draw together: a teacher starts a class, everyone joins with its code, and every digit you keep "
                "also goes to the class's wall, without names. Then the class trains its own model.")
    c["status"] = gr.Markdown(elem_id="class-status")
    with gr.Group(visible=True) as c["join_box"]:
        with gr.Row():
            c["code"] = gr.Textbox(label="Class code", placeholder="e.g. ACD 479", max_length=16, scale=3,
                                   elem_id="class-code")
            c["join"] = gr.Button("Join", variant="primary", scale=1, elem_id="class-join")
    c["leave"] = gr.Button("Leave the class", visible=False, elem_id="class-leave", size="sm")
    gr.Markdown("### Teach a class")
    c["start"] = gr.Button("Start a class", elem_id="class-start")
    with gr.Column(visible=False) as c["teacher_view"]:
        c["teacher_card"] = gr.HTML(elem_id="class-teacher", apply_default_css=False)
        with gr.Row():
            c["lock"] = gr.Button("Lock joining", elem_id="class-lock", size="sm")
            c["export"] = gr.Button("Export the drawings", elem_id="class-export", size="sm")
            c["new_teacher"] = gr.Button("New teacher link", elem_id="class-new-teacher-link", size="sm")
            c["ask_end"] = gr.Button("End the class…", variant="stop", elem_id="class-ask-end", size="sm")
        with gr.Row():  # the projector: new drawings wait for the teacher while it is paused
            c["pause"] = gr.Button("Pause the wall", elem_id="class-pause", size="sm")
            c["show_held"] = gr.Button("Show the held drawings", elem_id="class-show-held", size="sm")
            c["resume"] = gr.Button("Resume the wall", elem_id="class-resume", size="sm")
        c["exported"] = gr.File(label="The class's drawings: MNIST's IDX pair and a zip of PNGs",
                                file_count="multiple", interactive=False, visible=False, elem_id="class-exported")
        with gr.Column(visible=False) as c["confirm"]:
            c["confirm_text"] = gr.Markdown()
            with gr.Row():
                c["end"] = gr.Button("End it and delete everything", variant="stop", elem_id="class-end")
                c["cancel_end"] = gr.Button("Cancel", elem_id="class-cancel-end")
        gr.Markdown("#### The class's own model")
        with gr.Row():
            c["train"] = gr.Button("Train on our class", variant="primary", elem_id="class-train")
            c["stop"] = gr.Button("Stop", elem_id="class-stop")
            c["publish"] = gr.Button("Give it to the class", visible=False, variant="primary", elem_id="class-publish")
        c["progress"] = gr.Markdown(elem_id="class-progress")
        with gr.Row():  # the Train tab's colours, each model its own; CSS lets the legends show (app.css)
            c["loss"] = gr.LinePlot(x="epoch", y="loss", color="curve", label="Loss", height=220,
                                    elem_id="class-loss-plot", color_map=LOSS_COLOURS)
            c["acc"] = gr.LinePlot(x="epoch", y="accuracy", color="model", label="Accuracy (%)", height=220,
                                   elem_id="class-acc-plot", color_map=CLASS_ACC_COLOURS)
        gr.Markdown("#### The class's drawings")
        c["teacher_drawings"] = gr.HTML(elem_id="class-drawings", js_on_load=page_file("class_drawings.js"),
                                        apply_default_css=False)
        c["teacher_timer"] = gr.Timer(TEACHER_SECONDS, active=False)
    return c


def seat_store() -> gr.HTML:
    """Which class this browser is in, kept in the browser (page/class_seat.js): nothing to see."""
    return gr.HTML(None, elem_id="class-seat", js_on_load=page_file("class_seat.js"), apply_default_css=False,
                   seat=None, container=False, padding=False)


def wall_view() -> dict:
    """The projector's page: the wall alone (shown instead of the app when opened with ?wall=);
    and a student's clock, which must tick whichever tab is shown (a tab not shown yet has no
    components in the page)."""
    c = {"student_timer": gr.Timer(STUDENT_SECONDS, active=False)}
    with gr.Column(elem_id="wall-column"):  # empty but on a wall's page (app.css hides the rest there)
        c["wall"] = gr.HTML(None, elem_id="wall-view", js_on_load=page_file("confusion.js"), apply_default_css=False)
        c["cell"] = gr.HTML(None, elem_id="wall-cell", apply_default_css=False)
        c["wall_timer"] = gr.Timer(WALL_SECONDS, active=False)
    return c


def wire_class(classroom: Classroom, predictor: Predictor, settings: Settings,
               session: gr.State, stored: gr.HTML, draw: DrawTab, c: dict, w: dict) -> None:
    page = ClassPage(status=c["status"], join_box=c["join_box"], leave=c["leave"], code=c["code"],
                     student_timer=w["student_timer"], stored=stored, start=c["start"],
                     teacher_view=c["teacher_view"], teacher_card=c["teacher_card"], lock=c["lock"],
                     teacher_drawings=c["teacher_drawings"], teacher_timer=c["teacher_timer"],
                     wall=w["wall"], wall_timer=w["wall_timer"], pad=draw.pad,
                     choices=draw.choices, confirm=c["confirm"], exported=c["exported"])
    views = page.outputs()
    quiet = dict(api_visibility="private", show_progress="hidden")
    fast = dict(quiet, concurrency_limit=None)  # cheap reads: no waiting behind one another
    shipped = predictor.models

    stored.open(bind(open_page, classroom, page, draw.shipped_page), session, views, **quiet)
    for trigger in (c["join"].click, c["code"].submit):
        trigger(bind(join_typed, classroom, page, draw.shipped_page), [session, c["code"]], views, **quiet)
    # Leave, and the OK that puts away the line of a class that refused or dropped this page.
    for trigger in (c["leave"].click, draw.pad.forget_class):
        trigger(bind(leave_class, classroom, page, draw.shipped_page), session, views, **quiet)
    draw.pad.use_class(bind(use_class_model, classroom, page, draw.shipped_page), session,
                       [draw.pad, *draw.choices], **quiet)
    # The clock, and the pad when a send was refused for good (taken out, ended): both tabs say so.
    for trigger in (w["student_timer"].tick, draw.pad.class_changed):
        trigger(bind(check_class_model, classroom, page, draw.shipped_page), [session, *draw.choices],
                page.student_outputs(), **fast)

    c["start"].click(bind(start_class, classroom, page), session, views, **quiet)
    c["teacher_timer"].tick(bind(refresh_drawings, classroom), session, c["teacher_drawings"], **fast)
    c["teacher_drawings"].remove(bind(remove_one, classroom), session, c["teacher_drawings"],
                                 trigger_mode="multiple", **quiet)
    c["lock"].click(bind(toggle_lock, classroom), session, c["lock"], **quiet)
    c["new_teacher"].click(bind(new_teacher_link, classroom, page), session, views, **quiet)
    c["pause"].click(bind(pause_wall, classroom), session, c["teacher_drawings"], **quiet)
    c["show_held"].click(bind(show_held, classroom), session, c["teacher_drawings"], **quiet)
    c["resume"].click(bind(resume_wall, classroom), session, c["teacher_drawings"], **quiet)
    c["export"].click(bind(export_class, classroom), session, c["exported"], api_visibility="private")
    c["ask_end"].click(bind(ask_end, classroom), session, [c["confirm"], c["confirm_text"]], **quiet)
    c["cancel_end"].click(lambda: gr.Column(visible=False), None, c["confirm"], **quiet)
    c["end"].click(bind(end_class, classroom, page), session, views + [c["confirm"]], **quiet)

    def train(session: Session, request: gr.Request):  # not a partial: Gradio reads its gr.Request
        yield from train_class(classroom, settings, shipped, session, request)

    c["train"].click(train, session, [c["loss"], c["acc"], c["progress"], c["publish"]], api_visibility="private",
                     concurrency_limit=settings.max_trainings, concurrency_id="train", show_progress="minimal")
    c["stop"].click(stop_class_training, session, None, queue=False, api_visibility="private")
    c["publish"].click(bind(publish, classroom), session, c["progress"], **quiet)

    scores = ValidationScores(shipped)
    w["wall_timer"].tick(bind(refresh_wall, classroom, scores), session, [w["wall"], w["wall_timer"]], **fast)
    w["wall"].cell(bind(wall_cell, classroom), session, w["cell"], trigger_mode="always_last", **quiet)

