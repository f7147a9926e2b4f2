"""The teacher's controls: start a class, the way back to them (the private teacher link, and a
new one when it was seen), the join card and the wall's link, the drawings to moderate one by one
or a student's all at once, joining locked, the projector paused (new drawings held back until
shown), the drawings exported, and the class ended.

Every control acts only while this page's teacher link still opens its class (``teacher_code``).
The handlers update the page through the tab's ``ClassPage`` (tab.py), which they are given.
"""

from __future__ import annotations

import contextlib
import html
import time
import urllib.parse
from pathlib import Path

import gradio as gr

from .. import downloads
from ..collection import MAX_ID
from ..digit_files import write_export
from ..inputs import event_fields
from ..session import ClassSeat, Session
from .addresses import base_url, client_of, join_url
from .store import ClassError, Classroom, class_digits
from .views import join_card, spaced, teacher_drawings_html

TEACHER_SECONDS = 2.0  # the teacher's list of drawings


def teacher_links(seat: ClassSeat, classroom: Classroom) -> str:
    """The join card, the wall's link, and the teacher's private link folded away: a teacher's
    screen is often mirrored on the projector, so the link shows only after *Show* (a <details>:
    the link is in the page, with its href, but not drawn until then)."""
    code = seat.teaching
    # The base address comes from the request's headers (addresses.base_url): escaped, as any text
    # a client chose, before it goes into an attribute or the page.
    teacher = html.escape(f"{seat.base_url}?teach={seat.teacher_token}")
    wall = html.escape(f"{seat.base_url}?wall={classroom.wall_token(code)}")
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


def start_class(classroom: Classroom, page, serving_lan: bool, session: Session, request: gr.Request):
    seat = session.seat
    seat.base_url = base_url(request, serving_lan)
    try:
        new = classroom.create_class(client_of(request, classroom.limits.proxy_hops))
    except ClassError as e:  # this network started its hour's classes, or the server holds all it can
        raise gr.Error(str(e), title="No new class") from None
    seat.teaching, seat.teacher_token = new.code, new.teacher_token
    return page.views(seat, classroom) | {page.exported: gr.File(value=None, visible=False)}  # not the last class's


def reopen(classroom: Classroom, seat: ClassSeat, token: str, from_link: bool) -> str:
    """A page opened with the teacher's link (``?teach=TOKEN``), or by a browser that kept one: the
    controls again, while the link still opens its class. The sentence to show, if any."""
    seat.teaching = classroom.code_for_teacher(token)
    seat.teacher_token = token if seat.teaching else None
    if from_link and not seat.teaching:
        return "⚠️ That teacher link's class has ended (or the link is wrong)."
    return ""


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
    """The teacher's drawings, those the paused wall holds back marked so; and who joined: many
    students from one address is a school's router, or one phone adding made-up classmates."""
    return listing(classroom, code, classroom.wall_paused(code))


def listing(classroom: Classroom, code: str, held_after: int | None) -> str:
    """teacher_list, with the wall's state (``Classroom.wall_paused``) already read."""
    return students_line(classroom, code) + teacher_drawings_html(classroom.drawings(code), held_after)


def students_line(classroom: Classroom, code: str) -> str:
    summary = classroom.summary(code)
    if summary is None:
        return ""
    most = classroom.most_from_one_client(code)
    text = f"{summary.students:,} student{'s' * (summary.students != 1)} in the class"
    if most > 1:
        text += (f"; up to {most:,} joined from one address (all of a school's phones share its router's; "
                 "many more than your class from one is someone adding made-up students)")
    return f'<p class="class-students" id="class-students">{text}.</p>'


def refresh_drawings(classroom: Classroom, session: Session):
    """The teacher's wall controls and list, redrawn only when the class changed (a pause or a
    resume from another of the teacher's tabs changes it too: this one's buttons follow)."""
    seat = session.seat
    if not teaching(classroom, seat) or classroom.version(seat.teaching) == seat.seen:
        return gr.skip(), gr.skip(), gr.skip()
    return wall_controls(classroom, seat)


def new_teacher_link(classroom: Classroom, page, session: Session):
    """A new teacher link (the old one was seen): the old one opens nothing from now on. This
    page keeps the class, and the browser stores the new link (hidden until *Show*, as before)."""
    code = teacher_code(classroom, session)
    session.seat.teacher_token = classroom.new_teacher_token(code)
    return page.views(session.seat, classroom, "A new private teacher link replaces the old one, which opens "
                                               "nothing now.")


# Pause and Resume are one button that says what a press will do, as Lock joining does: both shown
# at once, a teacher could not tell whether the projector was paused.
PAUSE, RESUME = "Pause the wall", "Resume the wall"


def wall_and_list(classroom: Classroom, code: str) -> tuple[gr.Button, gr.Button, str]:
    """Pause (or Resume, while paused), *Show the held drawings* (offered only while paused), and
    the teacher's list (teacher_list), from one read of the wall's state."""
    held_after = classroom.wall_paused(code)
    paused = held_after is not None
    return gr.Button(RESUME if paused else PAUSE), gr.Button(visible=paused), listing(classroom, code, held_after)


def pause_or_resume(classroom: Classroom, session: Session, pressed: str):
    """``pressed``: the button's text as the teacher saw it, so that a press does what it said
    (another of the teacher's tabs may have paused or resumed since). Pause: new drawings wait for
    the teacher before the wall shows them. Resume: the held ones go to the wall, and every new one."""
    code = teacher_code(classroom, session)
    if pressed == RESUME:
        classroom.show_held(code, resume=True)
    else:
        classroom.pause_wall(code)
    return wall_controls(classroom, session.seat)


def show_held(classroom: Classroom, session: Session):
    """The held drawings go to the wall; the next ones are held again."""
    classroom.show_held(teacher_code(classroom, session), resume=False)
    return wall_controls(classroom, session.seat)


def wall_controls(classroom: Classroom, seat: ClassSeat) -> tuple:
    """Pause (or Resume), Show the held drawings, and the list, as the class is now; seen so."""
    seat.seen = classroom.version(seat.teaching)
    return wall_and_list(classroom, seat.teaching)


def remove_one(classroom: Classroom, session: Session, evt: gr.EventData):
    code, data = teacher_code(classroom, session), event_fields(evt)
    drawing_id = data.get("id")
    if type(drawing_id) is not int or not 0 <= drawing_id < MAX_ID:  # the page's ids are 0..2**53
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


def export_class(classroom: Classroom, session: Session):
    """The class's drawings as the Your digits tab writes them: MNIST's IDX pair and a zip of PNGs."""
    code = teacher_code(classroom, session)
    digits = class_digits(classroom, code)
    if not len(digits):
        raise gr.Error("The class has no drawings to export yet.", title="Nothing to export")
    folder = session.new_downloads("class")
    return gr.File(write_export(digits, folder, time.strftime(f"{export_stem(code)}%Y%m%d-%H%M%S")), visible=True)


def ask_end(classroom: Classroom, session: Session):
    code = teacher_code(classroom, session)
    n = classroom.count(code)
    return gr.Column(visible=True), (f"**End class {spaced(code)}?** This deletes its {n:,} drawing"
                                     f"{'s' * (n != 1)} and its model for good. Export them first if you want "
                                     "to keep them.")


def export_stem(code: str) -> str:
    """How every export file of a class begins: what ``remove_exports`` finds them by."""
    return f"class-{code}-"


def remove_exports(code: str, roots) -> int:
    """Delete every export of this class under ``roots`` (this process's download folders, and the
    copies Gradio served them from): an ended class's drawings are gone from the disk too. A code
    is six letters and digits of JOIN_ALPHABET, so the pattern matches nothing else. Returns how many."""
    removed = 0
    for root in roots:
        root = Path(root)
        if not root.is_dir():
            continue
        for path in root.rglob(f"{export_stem(code)}*"):
            with contextlib.suppress(OSError):
                path.unlink()
                removed += 1
    return removed


def end_class(classroom: Classroom, page, session: Session):
    code = teacher_code(classroom, session)
    classroom.end_class(code)
    exported = getattr(page.exported, "GRADIO_CACHE", None)  # the File component's copies (in the app)
    remove_exports(code, [downloads.process_root(), *([exported] if exported else [])])
    session.seat.teaching = session.seat.teacher_token = None
    return page.views(session.seat, classroom, f"Class {spaced(code)} has ended: everything in it is deleted.") \
        | {page.confirm: gr.Column(visible=False), page.exported: gr.File(value=None, visible=False)}
