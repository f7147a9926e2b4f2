"""The Class tab's layout and wiring: its components, what they show for a page's seat
(``ClassPage``), the page's opening, and each control bound to its handler.

Three kinds of page, told apart by the address they were opened with:
- ``?class=CODE``: a student's join link (or the code typed in this tab), student.py;
- ``?teach=TOKEN``: the teacher's private link, the way back to the controls, teacher.py;
- ``?wall=TOKEN``: the projector wall, which only shows (its token grants nothing else), wall.py.

Everything a class owns is in the classroom's SQLite database (store.py); a page holds only its
``ClassSeat`` (session.py) and, in the browser, which class it is in (page/class_seat.js, in
localStorage), so a reload or a restarted server finds its class again. The HTML is drawn by views.py.
"""

from __future__ import annotations

import functools
import inspect
import json
import sqlite3

import gradio as gr

from .. import handlers
from ..handlers import QUIET
from ..inference import Predictor
from ..inputs import event_fields
from ..page_assets import class_train_head, page_file, shipped_urls
from ..page_trainer import DEVICE, SERVER, not_on_server, where_choices
from ..session import WAITING, ClassSeat, Session
from ..settings import Settings
from ..ui_draw import DrawTab
from ..ui_train import LOSS_COLOURS
from .addresses import base_url
from .page_routes import class_trainer_setup
from .store import STUDENT_SECONDS, ClassError, Classroom, normalize_code
from .student import (
    check_class_model,
    join_typed,
    leave_class,
    open_student,
    restore_seat,
    stored_seat,
    student_text,
    use_class_model,
)
from .teacher import (
    PAUSE,
    TEACHER_SECONDS,
    ask_end,
    end_class,
    export_class,
    is_locked,
    new_teacher_link,
    pause_or_resume,
    refresh_drawings,
    remove_one,
    reopen,
    show_held,
    start_class,
    teacher_links,
    teaching,
    toggle_lock,
    wall_and_list,
)
from .training import CLASS_ACC_COLOURS, HIDDEN, publish, stop_class_training, train_class
from .wall import WALL_SECONDS, ValidationScores, open_wall, refresh_wall, wall_cell


class ClassPage:
    """The components the class handlers update, named once; ``views`` fills them from a seat."""

    def __init__(self, **components):
        self.__dict__.update(components)

    def student_outputs(self) -> list:
        """What a student's page shows of the class: the Class tab's text and controls, the seat the
        browser keeps (the pad's class line is drawn from it), the seat's echo, and the pad's models
        and choices."""
        return [self.status, self.join_box, self.leave, self.code, self.student_timer, self.stored, self.echo,
                self.pad, *self.choices]

    def outputs(self) -> list:
        """Never the columns or tabs that hold the pad: an update to one of those mounts the pad
        again, losing a drawing under way. A wall page hides the app with CSS instead, and a
        teacher's link opens the Class tab from the page (page/class_seat.js)."""
        return [*self.student_outputs(), self.start, self.teacher_view, self.teacher_card, self.lock,
                self.pause, self.show_held, self.teacher_drawings, self.teacher_timer, self.exported, self.wall,
                self.wall_timer]

    def student_views(self, seat: ClassSeat, classroom: Classroom, note: str = "") -> dict:
        joined = bool(seat.code)
        return {
            self.status: student_text(seat, note),
            self.join_box: gr.Group(visible=not joined and not seat.teaching),
            self.leave: gr.Button(visible=joined),
            # A code box left holding the last code would make typing it again a malformed code.
            self.code: gr.Textbox(value="") if joined else gr.skip(),
            self.student_timer: gr.Timer(active=joined),
            self.stored: gr.HTML(seat=stored_seat(seat, classroom), former=dict(seat.former)),
            self.echo: seat_echo(seat),
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
            out[self.pause], out[self.show_held], out[self.teacher_drawings] = wall_and_list(classroom, teaching)
        else:
            out |= dict.fromkeys([self.teacher_card, self.lock, self.pause, self.show_held, self.teacher_drawings],
                                 gr.skip())
        out[self.wall] = gr.skip() if not walling or seat.seen != -1 else \
            '<div class="class-wall loading"><h2>Opening the wall…</h2></div>'
        return out


def open_page(classroom: Classroom, page: ClassPage, shipped_page: dict, serving_lan: bool, session: Session,
              evt: gr.EventData, request: gr.Request):
    """The page opened (page/class_seat.js sends its address's parameters and the class this
    browser kept): a wall, a teacher's link, a join link, or the class this browser was in."""
    seat = session.seat
    seat.base_url = base_url(request, serving_lan)
    data = event_fields(evt)
    params = data.get("params") if isinstance(data.get("params"), dict) else {}
    stored = data.get("stored") if isinstance(data.get("stored"), dict) else {}
    left = data.get("left") if isinstance(data.get("left"), dict) else {}
    if not seat.former:  # the ids this browser had in classes it left: joining one again gives it back
        seat.former = {normalize_code(k): v for k, v in list(left.items())[:8]
                       if isinstance(k, str) and isinstance(v, str) and len(v) <= 64}
    if not any(params.get(k) for k in ("wall", "teach", "class")) and not (stored.get("code") or
                                                                           stored.get("teacher")):
        return dict.fromkeys(page.outputs(), gr.skip())  # not in a class: nothing to change
    if params.get("wall"):
        return open_wall(classroom, page, seat, str(params["wall"]))
    teacher = params.get("teach") or stored.get("teacher")
    note = reopen(classroom, seat, str(teacher), bool(params.get("teach"))) if teacher else ""
    return open_student(classroom, page, shipped_page, session, params, stored, request, note)


def admit_class_training(settings: Settings, session: Session, _echo, _progress, where: str = SERVER,
                         classroom: Classroom | None = None, request: gr.Request | None = None) -> list[dict]:
    """Gradio's validator for "Train on our class", run before the event enters the queue: a place
    in the line every training shares (session.WAITING: one per tab, at most
    ``max_waiting_trainings`` waiting in all), only for a page that teaches a live class; or the
    sentence saying why not. With "This device" chosen the teacher's page trains (class_trainer.js)
    and the press never reaches here unless that script had not loaded yet; then, as when this host
    keeps its server from training, it is refused (page_trainer.not_on_server)."""
    problem = not_on_server(settings, where)
    if classroom is not None and not problem:
        recall(classroom, settings.serving_lan, session, _echo, request)
        if not teaching(classroom, session.seat):
            problem = "This class has ended, or its teacher link was replaced: open the current one."
    problem = problem or WAITING.admit(session, settings.max_waiting_trainings, settings.max_trainings)
    return [gr.validate(True, ""), gr.validate(True, ""), gr.validate(problem is None, problem or ""),
            gr.validate(True, "")]


def class_training_turn(classroom: Classroom, settings: Settings, shipped: dict, session: Session,
                        request: gr.Request | None):
    """The class training's turn came: its place in the line is free, and the teacher's tab holds
    its one training slot while it runs (a Train tab training in the same tab waits for it too)."""
    WAITING.leave(session)
    if session.running:  # train_class claims the slot itself (training.running), and would say it in a notice
        yield gr.skip(), gr.skip(), "⚠️ A training is already running in this tab: stop it first.", gr.skip()
        return
    yield from train_class(classroom, settings, shipped, session, request)


MAX_ECHO = 1000  # characters: a seat's echo is three tokens and a code; anything longer is not one


def seat_echo(seat: ClassSeat) -> str:
    """What names this page's seat, kept in the page itself (a hidden textbox, ``ClassPage.echo``)
    and sent back with every class event: a session the server dropped (Gradio keeps a bounded
    number, ui.SESSIONS) is rebuilt from it by ``recall``, so a teacher's standing rests on the
    teacher link and a student's on their seat, never on a server session surviving."""
    return json.dumps({"code": seat.code, "student": seat.student,
                       "teacher": seat.teacher_token if seat.teaching else None, "wall": seat.wall})


def recall(classroom: Classroom, serving_lan: bool, session: Session, echo, request: gr.Request | None) -> None:
    """Rebuild the seat of a session that has none (a new one, after the server dropped the page's)
    from the page's echo: each part only as far as the classroom says it still holds."""
    seat = session.seat
    if seat.code or seat.teaching or seat.wall or not isinstance(echo, str) or not 0 < len(echo) <= MAX_ECHO:
        return
    try:
        data = json.loads(echo)
    except ValueError:
        return
    if not isinstance(data, dict):
        return
    text = {k: data[k] if isinstance(data.get(k), str) else "" for k in ("code", "student", "teacher", "wall")}
    if not seat.base_url:
        seat.base_url = base_url(request, serving_lan)
    if text["teacher"]:
        reopen(classroom, seat, text["teacher"], False)
    if text["wall"] and classroom.code_for_wall(text["wall"]):
        seat.wall = text["wall"]
    if text["code"] and text["student"]:
        restore_seat(classroom, seat, {"code": text["code"], "student": text["student"], "state": "joined"})


def seated(classroom: Classroom, serving_lan: bool, handler):
    """``handler(session, ...)`` as an event that also takes the page's seat echo right after the
    session: the seat is recalled from it first, when the session lost it."""
    signature = inspect.signature(handler)
    params = list(signature.parameters.values())
    hints = dict(getattr(handler, "__annotations__", {}))
    asks_request = next((p.name for p in params if hints.get(p.name) in (gr.Request, "gr.Request")), None)
    echo = inspect.Parameter("echo", inspect.Parameter.POSITIONAL_OR_KEYWORD)
    extra = [] if asks_request else [inspect.Parameter("seat_request", inspect.Parameter.POSITIONAL_OR_KEYWORD)]

    @functools.wraps(handler)
    def event(session, echo_text, *args):
        if asks_request:
            request = args[[p.name for p in params[1:]].index(asks_request)]
        else:
            request, args = args[0], args[1:]
        recall(classroom, serving_lan, session, echo_text, request)
        return handler(session, *args)

    # The request's place, where the handler does not ask for one itself: before any *args.
    event.__signature__ = signature.replace(parameters=[params[0], echo, *extra, *params[1:]])
    event.__annotations__ = {**hints, "echo": "str", **({} if asks_request else {"seat_request": "gr.Request"})}
    return event


def bind(fn, *bound):
    """handlers.bind for the class's handlers: a refusal a handler did not word itself (a
    ClassError) is its sentence, and a busy store says so: never a bare "Error"."""
    inner = handlers.bind(fn, *bound)

    @functools.wraps(inner)
    def handler(*args):
        try:
            return inner(*args)
        except ClassError as e:
            raise gr.Error(str(e)) from None
        except sqlite3.OperationalError:  # the host's command line holds the database: soon
            raise gr.Error("The class's store is busy for a moment: try again.") from None
    return handler


def class_tab(settings: Settings) -> dict:
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
            c["pause"] = gr.Button(PAUSE, elem_id="class-pause", size="sm")  # or RESUME, while paused
            c["show_held"] = gr.Button("Show the held drawings", visible=False, elem_id="class-show-held", size="sm")
        c["exported"] = gr.File(label="The class's drawings: MNIST's IDX pair and a zip of PNGs",
                                file_count="multiple", interactive=False, visible=False, elem_id="class-exported")
        with gr.Column(visible=False) as c["confirm"]:
            c["confirm_text"] = gr.Markdown()
            with gr.Row():
                c["end"] = gr.Button("End it and delete everything", variant="stop", elem_id="class-end")
                c["cancel_end"] = gr.Button("Cancel", elem_id="class-cancel-end")
        gr.Markdown("#### The class's own model")
        # Where it trains, as the Train tab's #train-where: this device by default (the teacher's
        # page trains it, page/class_trainer.js), or the server where the host offers it.
        # interactive: class_trainer.js reads it; "Train on our class" sends it only so that a press
        # that script could not answer yet is refused (admit_class_training).
        c["where"] = gr.Radio(where_choices(settings), value=DEVICE, label="Train on", elem_id="class-train-where",
                              interactive=True, visible=settings.server_training,
                              info="This device: this browser fine-tunes both models on the class's drawings, and "
                                   "the server only hands them over. The server: this app's computer trains them.")
        with gr.Row():
            c["train"] = gr.Button("Train on our class", variant="primary", elem_id="class-train")
            c["stop"] = gr.Button("Stop", elem_id="class-stop")
            c["publish"] = gr.Button("Give it to the class", visible=HIDDEN, variant="primary",
                                     elem_id="class-publish")
        # This device's run: no Gradio event, the page trains (page/class_trainer.js).
        gr.HTML(None, elem_id="class-trainer-box", html_template=page_file("class_trainer.html"),
                js_on_load=page_file("class_trainer.js"), head=class_train_head(), apply_default_css=False,
                setup=class_trainer_setup(settings), shipped=shipped_urls())
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
                   seat=None, former=None, container=False, padding=False)


def wall_view() -> dict:
    """The projector's page: the wall alone (shown instead of the app when opened with ?wall=);
    and a student's clock, which must tick whichever tab is shown (a tab not shown yet has no
    components in the page)."""
    c = {"student_timer": gr.Timer(STUDENT_SECONDS, active=False),
         # The seat's echo (seat_echo): kept in the page, hidden, sent with every class event.
         "echo": gr.Textbox(visible="hidden", elem_id="class-seat-echo", container=False, show_label=False)}
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
                     pause=c["pause"], show_held=c["show_held"],
                     teacher_drawings=c["teacher_drawings"], teacher_timer=c["teacher_timer"],
                     wall=w["wall"], wall_timer=w["wall_timer"], pad=draw.pad,
                     choices=draw.choices, confirm=c["confirm"], exported=c["exported"], echo=w["echo"])
    views = page.outputs()
    quiet = QUIET
    fast = dict(quiet, concurrency_limit=None)  # cheap reads: no waiting behind one another
    shipped = predictor.models
    # Every event that acts on this page's seat takes the seat's echo too (seated): a session the
    # server dropped is rebuilt from it, so nothing rests on a server session surviving.
    seat = [session, w["echo"]]

    def on_seat(fn, *bound):
        return seated(classroom, settings.serving_lan, bind(fn, *bound))

    stored.open(bind(open_page, classroom, page, draw.shipped_page, settings.serving_lan), session, views, **quiet)
    for trigger in (c["join"].click, c["code"].submit):
        trigger(on_seat(join_typed, classroom, page, draw.shipped_page), [*seat, c["code"]], views, **quiet)
    # Leave, and the OK that puts away the line of a class that refused or dropped this page.
    for trigger in (c["leave"].click, draw.pad.forget_class):
        trigger(on_seat(leave_class, classroom, page, draw.shipped_page), seat, views, **quiet)
    draw.pad.use_class(bind(use_class_model, classroom, page, draw.shipped_page), session,
                       [draw.pad, *draw.choices], **quiet)
    # The clock, and the pad when a send was refused for good (taken out, ended): both tabs say so.
    for trigger in (w["student_timer"].tick, draw.pad.class_changed):
        trigger(on_seat(check_class_model, classroom, page, draw.shipped_page), [*seat, *draw.choices],
                page.student_outputs(), **fast)

    c["start"].click(bind(start_class, classroom, page, settings.serving_lan), session, views, **quiet)
    wall_outputs = [c["pause"], c["show_held"], c["teacher_drawings"]]
    c["teacher_timer"].tick(on_seat(refresh_drawings, classroom), seat, wall_outputs, **fast)
    c["teacher_drawings"].remove(on_seat(remove_one, classroom), seat, c["teacher_drawings"],
                                 trigger_mode="multiple", **quiet)
    c["lock"].click(on_seat(toggle_lock, classroom), seat, c["lock"], **quiet)
    c["new_teacher"].click(on_seat(new_teacher_link, classroom, page), seat, views, **quiet)
    c["pause"].click(on_seat(pause_or_resume, classroom), [*seat, c["pause"]], wall_outputs, **quiet)
    c["show_held"].click(on_seat(show_held, classroom), seat, wall_outputs, **quiet)
    c["export"].click(on_seat(export_class, classroom), seat, c["exported"], api_visibility="private")
    c["ask_end"].click(on_seat(ask_end, classroom), seat, [c["confirm"], c["confirm_text"]], **quiet)
    c["cancel_end"].click(lambda: gr.Column(visible=False), None, c["confirm"], **quiet)
    c["end"].click(on_seat(end_class, classroom, page), seat, views + [c["confirm"]], **quiet)

    def admit(session: Session, echo: str, progress, where: str, request: gr.Request):  # Gradio reads its gr.Request
        return admit_class_training(settings, session, echo, progress, where, classroom, request)

    def train(session: Session, echo: str, _progress, _where, request: gr.Request):
        recall(classroom, settings.serving_lan, session, echo, request)
        yield from class_training_turn(classroom, settings, shipped, session, request)

    # The validator takes a place in the trainings' line before the queue (one per tab, the waiting
    # cap), as the Train tab's Start does: a tab pressing this 300 times fills nothing. Its refusal
    # is shown on the progress line (an input only for that).
    c["train"].click(train, [*seat, c["progress"], c["where"]], [c["loss"], c["acc"], c["progress"], c["publish"]],
                     api_visibility="private", concurrency_limit=settings.max_trainings, concurrency_id="train",
                     validator=admit, show_progress="minimal")
    c["stop"].click(stop_class_training, session, None, queue=False, api_visibility="private")
    c["publish"].click(on_seat(publish, classroom), seat, c["progress"], **quiet)

    scores = ValidationScores(shipped, settings.mnist)
    w["wall_timer"].tick(on_seat(refresh_wall, classroom, scores), seat, [w["wall"], w["wall_timer"]], **fast)
    w["wall"].cell(on_seat(wall_cell, classroom), seat, w["cell"], trigger_mode="always_last", **quiet)
