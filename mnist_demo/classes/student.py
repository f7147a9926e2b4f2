"""A student's page in a class: joining (by link, by code, or again after a reload from the seat
the browser keeps), leaving, the keeps the pad's outbox sends to the class, and the class's model
reaching the pad (offered on its class line, used in one tap).

The handlers update the page through the tab's ``ClassPage`` (tab.py), which they are given, and
say a refusal (a locked, full or ended class, a student taken out) on both tabs.
"""

from __future__ import annotations

import sqlite3

import gradio as gr

from ..collection import CollectionError
from ..data import PIXEL_SCALE
from ..handlers import bind
from ..inference import Predictor
from ..inputs import CLASS, SHIPPED, digits_from_page, event_fields
from ..models import MODEL_NAMES
from ..page_assets import page_weights
from ..session import ClassSeat, Session
from ..ui_draw import page_models, weights_options
from ..weights import WeightsError, weights_from_bytes
from .addresses import client_of
from .store import NOT_IN_CLASS, ClassError, Classroom, normalize_code
from .views import spaced

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
        student = classroom.join(code, client_of(request, classroom.limits.proxy_hops), seat.former.get(code))
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
            seat.former = {**dict(list(seat.former.items())[-7:]), seat.code: seat.student}  # a few at most
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


def open_student(classroom: Classroom, page, shipped_page: dict, session: Session, params: dict, stored: dict,
                 request: gr.Request | None, note: str = "") -> dict:
    """A student's part of a page opening (tab.open_page): the class this browser was in, first (a
    reloaded join link must not join twice), then the join link's class where it is another one."""
    seat = session.seat
    restore_seat(classroom, seat, stored)
    if params.get("class") and normalize_code(str(params["class"])) != seat.code:
        note = join(classroom, seat, str(params["class"]), request) or note  # and on to the Draw tab
    if not (params.get("class") or stored.get("code")):
        return page.views(seat, classroom, note)  # a teacher's page: the pad keeps its models
    if seat.code:
        load_class_model(classroom, seat)  # at once, so that a chosen class model answers after a reload
    return page.views(seat, classroom, note) | pad_after_class_change(page, shipped_page, session, None)


def join_typed(classroom: Classroom, page, shipped_page: dict, session: Session, code: str,
               request: gr.Request):
    note = join(classroom, session.seat, code or "", request)
    if session.seat.code:
        load_class_model(classroom, session.seat)
    return page.views(session.seat, classroom, note) | pad_after_class_change(page, shipped_page, session, None)


def leave_class(classroom: Classroom, page, shipped_page: dict, session: Session):
    """Leave (or put away the line of a class that refused or dropped this page): kept digits stay
    in this browser; those sent stay with the class, without a name."""
    was_in = bool(session.seat.code)
    leave(session.seat, classroom)
    note = "You left the class. The digits you sent stay with it, without your name." if was_in else ""
    return page.views(session.seat, classroom, note) | pad_after_class_change(page, shipped_page, session, None) \
        | {page.code: gr.Textbox(value="")}


def pad_after_class_change(page, shipped_page: dict, session: Session, choices) -> dict:
    """The weights radios (with or without the class's model) and the pad's models to match: the
    class's model for the models this student chose it for, else what was chosen (None: shipped)."""
    seat = session.seat
    options = weights_options(seat)
    values = [CLASS if seat.models and n in seat.chosen else c if choices and c in options else SHIPPED
              for n, c in zip(MODEL_NAMES, choices or [SHIPPED] * len(MODEL_NAMES), strict=True)]
    return {page.pad: gr.HTML(models=page_models(shipped_page, session, values)),
            **{radio: gr.Radio(options, value=v) for radio, v in zip(page.choices, values, strict=True)}}


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
    return bind(send_to_class, classroom, predictor)


def check_class_model(classroom: Classroom, page, shipped_page: dict, session: Session, *choices):
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


def use_class_model(classroom: Classroom, page, shipped_page: dict, session: Session,
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
