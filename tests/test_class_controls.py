"""The teacher's controls for a mirrored projector, in process on a real classroom database: a
new teacher link that retires the old one; the wall paused (held drawings off the projector,
kept in SQLite across a restart, schema 2 migrated from a version-1 file); and the class model's
figures as the teacher reads them."""

import sqlite3
from types import SimpleNamespace

import gradio as gr
import numpy as np
import pytest

from mnist_demo.classes.store import DB_NAME, SCHEMA, SCHEMA_VERSION, ClassError, ClassLimits, Classroom
from mnist_demo.classes.tab import open_page
from mnist_demo.classes.teacher import (
    PAUSE,
    RESUME,
    new_teacher_link,
    pause_or_resume,
    refresh_drawings,
    show_held,
    start_class,
)
from mnist_demo.classes.training import class_progress
from mnist_demo.classes.views import class_model_summary
from mnist_demo.classes.wall import ValidationScores, refresh_wall, wall_cell
from mnist_demo.session import Session

FREE = ClassLimits(keeps_per_second=1e9, keep_burst=10**9)


@pytest.fixture
def room(tmp_path):
    with Classroom(tmp_path, FREE) as c:
        yield c


def request():
    return SimpleNamespace(headers={"host": "127.0.0.1:7860"}, client=SimpleNamespace(host="10.0.0.5"),
                           query_params={}, url=SimpleNamespace(scheme="http"))


def keep(room, code, student, i, label=3):
    return room.add_drawing(code, student, i, label, label, label, bytes([i % 256]) * 784)


def wall_session(room, page, token):
    session = Session()
    open_page(room, page, {}, False, session, gr.EventData(None, {"params": {"wall": token}, "stored": None}),
              request())
    scores = ValidationScores({}, None)
    scores.confusions = {}
    return session, scores


# ---------------------------------------------------------------------------- a new teacher link


def test_a_new_teacher_token_retires_the_old_one(room):
    new = room.create_class()
    token = room.new_teacher_token(new.code)
    assert token != new.teacher_token and len(token) >= 32
    assert room.code_for_teacher(new.teacher_token) is None
    assert room.code_for_teacher(token) == new.code and room.teacher_token(new.code) == token
    assert room.code_for_wall(new.wall_token) == new.code  # the wall's link is another matter
    room.end_class(new.code)
    with pytest.raises(ClassError):
        room.new_teacher_token(new.code)


def test_the_new_teacher_link_button_shows_the_new_link_hidden_and_the_browser_keeps_it(room, page):
    teacher = Session()
    out = start_class(room, page, False, teacher, request())
    code, old = teacher.seat.teaching, room.teacher_token(teacher.seat.teaching)
    assert f"?teach={old}" in out["teacher_card"]
    out = new_teacher_link(room, page, teacher)
    token = room.teacher_token(code)
    assert token != old and room.code_for_teacher(old) is None
    card = out["teacher_card"]
    assert f'<a id="class-teacher-link" href="http://127.0.0.1:7860/?teach={token}">' in card and old not in card
    assert '<details class="private"' in card and "<details class=\"private\" open" not in card  # folded
    assert out["stored"].props["seat"]["teacher"] == token and "replaces the old one" in out["status"]
    other = Session()  # the old link, opened now, opens nothing
    out = open_page(room, page, {}, False, other, gr.EventData(None, {"params": {"teach": old}, "stored": None}),
                    request())
    assert other.seat.teaching is None and "ended (or the link is wrong)" in out["status"]


def test_a_replaced_teacher_link_takes_the_controls_from_every_page_that_used_it(room, page):
    teacher = Session()
    start_class(room, page, False, teacher, request())
    code, old = teacher.seat.teaching, teacher.seat.teacher_token
    student = Session()  # a student photographed the projected link, and opened it
    open_page(room, page, {}, False, student, gr.EventData(None, {"params": {"teach": old}, "stored": None}), request())
    assert student.seat.teaching == code
    new_teacher_link(room, page, teacher)  # the teacher saw it happen
    with pytest.raises(gr.Error, match="teacher link was replaced"):
        new_teacher_link(room, page, student)  # nor can they take the new link for themselves
    assert student.seat.teaching is None and room.code_for_teacher(teacher.seat.teacher_token) == code
    assert refresh_drawings(room, student) == (gr.skip(),) * 3  # their list stops too


# ---------------------------------------------------------------------------- the paused wall


def test_a_paused_wall_holds_new_drawings_until_the_teacher_lets_them_through(room):
    new = room.create_class()
    student = room.join(new.code, "x")
    keep(room, new.code, student, 1, label=1)
    assert room.wall_paused(new.code) is None and room.held_count(new.code) == 0
    version = room.version(new.code)
    room.pause_wall(new.code)
    assert room.version(new.code) > version and room.wall_paused(new.code) is not None
    for i, label in ((2, 2), (3, 3)):
        keep(room, new.code, student, i, label)
    assert room.held_count(new.code) == 2
    assert [d.drawing_id for d in room.wall_newest(new.code, 10)] == [1]
    assert room.wall_answers(new.code).tolist() == [[1, 1, 1]]
    assert [d.drawing_id for d in room.drawings(new.code)] == [1, 2, 3]  # the teacher sees them all
    room.remove_drawing(new.code, 3)  # and can remove a held one
    assert room.held_count(new.code) == 1
    room.pause_wall(new.code)  # pausing again holds nothing back that was shown
    assert room.held_count(new.code) == 1
    assert room.show_held(new.code) == 1  # through to the wall; still paused for the next
    assert [d.drawing_id for d in room.wall_newest(new.code, 10)] == [2, 1] and room.held_count(new.code) == 0
    keep(room, new.code, student, 4)
    assert room.held_count(new.code) == 1 and room.wall_paused(new.code) is not None
    assert room.show_held(new.code, resume=True) == 1
    assert room.wall_paused(new.code) is None and len(room.wall_newest(new.code, 10)) == 3
    keep(room, new.code, student, 5)
    assert room.held_count(new.code) == 0 and len(room.wall_answers(new.code)) == 4


def test_the_pause_is_in_the_database_and_survives_a_restart(tmp_path):
    with Classroom(tmp_path, FREE) as room:
        new = room.create_class()
        student = room.join(new.code, "x")
        keep(room, new.code, student, 1)
        room.pause_wall(new.code)
        keep(room, new.code, student, 2)
    with Classroom(tmp_path, FREE) as room:
        assert room.held_count(new.code) == 1 and [d.drawing_id for d in room.wall_newest(new.code, 9)] == [1]


def test_a_version_1_file_is_migrated_and_keeps_its_classes(tmp_path):
    path = tmp_path / DB_NAME
    with sqlite3.connect(path) as db:  # a file as the app wrote it before the pause existed
        db.executescript(SCHEMA)
        db.execute("PRAGMA user_version = 1")
        db.execute("INSERT INTO classes (code, teacher_token, teacher_hash, wall_token, wall_hash, created, expires) "
                   "VALUES ('ACDEFH', 't', x'01', 'w', x'02', 0, 1e12)")
        db.execute("INSERT INTO students VALUES ('ACDEFH', 's', 0)")
        db.execute("INSERT INTO drawings (code, drawing_id, student, label, linear, cnn, pixels, created) "
                   "VALUES ('ACDEFH', 7, 's', 4, 4, 4, zeroblob(784), 1)")
        assert "wall_upto" not in [r[1] for r in db.execute("PRAGMA table_info(classes)")]
    db.close()
    with Classroom(tmp_path, FREE) as room:
        assert room.count("ACDEFH") == 1 and room.wall_paused("ACDEFH") is None
        room.pause_wall("ACDEFH")
        keep(room, "ACDEFH", "s", 8)
        assert room.held_count("ACDEFH") == 1
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 3
        assert "wall_upto" in [r[1] for r in db.execute("PRAGMA table_info(classes)")]
    db.close()


def shown(out) -> tuple[str | None, bool | None, str]:
    """Pause's text, whether *Show the held drawings* is offered, and the teacher's list."""
    pause, held, listing = out
    return pause.value, held.visible, listing


def test_the_paused_walls_page_and_the_teachers_list_through_the_handlers(room, page):
    teacher = Session()
    out = start_class(room, page, False, teacher, request())
    assert (out["pause"].value, out["show_held"].visible) == (PAUSE, False)  # one button: not Resume beside it
    code = teacher.seat.teaching
    student = room.join(code, "x")
    keep(room, code, student, 1, label=1)
    wall, scores = wall_session(room, page, room.wall_token(code))
    assert 'data-count="1"' in refresh_wall(room, scores, wall)[0]
    pause, offered, listing = shown(pause_or_resume(room, teacher, PAUSE))
    assert (pause, offered) == (RESUME, True)  # says what the next press does
    assert "The wall is paused" in listing and "data-held" not in listing
    for i in (2, 3):
        keep(room, code, student, i, label=7)
    html = refresh_wall(room, scores, wall)[0]
    assert 'data-count="1"' in html and "2 drawings waiting for the teacher" in html
    assert 'data-drawing-id="2"' not in html and 'data-drawing-id="3"' not in html
    cell = wall_cell(room, wall, gr.EventData(None, {"cell": f"cnn 7 {room.drawings(code)[-1].cnn}"}))
    assert "0 drawings of 7" in cell  # a click on the projector's confusion cell shows none held back either
    listing = refresh_drawings(room, teacher)[2]
    assert listing.count('data-held="1"') == 2 and "held: not on the wall" in listing
    pause, offered, listing = shown(show_held(room, teacher))
    assert (pause, offered) == (RESUME, True) and "data-held" not in listing  # still paused for the next ones
    html = refresh_wall(room, scores, wall)[0]
    assert 'data-count="3"' in html and 'data-waiting="0"' in html  # still paused, nothing waiting
    keep(room, code, student, 4)
    assert "1 drawing waiting for the teacher" in refresh_wall(room, scores, wall)[0]
    # The teacher's page, reloaded while paused, offers Resume and Show again.
    reloaded = Session()
    out = open_page(room, page, {"linear": {}, "cnn": {}}, False, reloaded, gr.EventData(None, {
        "params": {}, "stored": {"teacher": teacher.seat.teacher_token}}), request())
    assert reloaded.seat.teaching == code
    assert (out["pause"].value, out["show_held"].visible) == (RESUME, True)
    pause, offered, listing = shown(pause_or_resume(room, teacher, RESUME))
    assert (pause, offered) == (PAUSE, False) and "The wall is paused" not in listing
    html = refresh_wall(room, scores, wall)[0]
    assert 'data-count="4"' in html and "class-waiting" not in html


def test_a_stale_pause_button_does_what_it_said_and_the_next_tick_corrects_it(room, page):
    """Two of the teacher's tabs: one paused the wall, the other still says Pause. Its next tick
    says Resume; a press before that pauses (it does not resume what the first tab paused), and
    then says Resume."""
    teacher, other_tab = Session(), Session()
    start_class(room, page, False, teacher, request())
    open_page(room, page, {"linear": {}, "cnn": {}}, False, other_tab, gr.EventData(None, {
        "params": {"teach": teacher.seat.teacher_token}, "stored": None}), request())
    assert shown(refresh_drawings(room, other_tab))[:2] == (PAUSE, False)  # its first tick draws
    assert refresh_drawings(room, other_tab) == (gr.skip(),) * 3  # then nothing changed
    pause_or_resume(room, teacher, PAUSE)
    assert shown(refresh_drawings(room, other_tab))[:2] == (RESUME, True)
    assert refresh_drawings(room, other_tab) == (gr.skip(),) * 3  # and only once
    held_after = room.wall_paused(teacher.seat.teaching)
    assert shown(pause_or_resume(room, teacher, PAUSE))[:2] == (RESUME, True)
    assert room.wall_paused(teacher.seat.teaching) == held_after
    pause_or_resume(room, teacher, RESUME)
    assert shown(pause_or_resume(room, teacher, RESUME))[:2] == (PAUSE, False)
    assert room.wall_paused(teacher.seat.teaching) is None


# ---------------------------------------------------------------------------- the class model's words


def test_the_summary_has_one_decimal_and_the_kept_weights_figures():
    meta = {"linear": {"held_before": "0.8", "held_after": "0.83333", "valid_before": "0.9204",
                       "valid_after": "0.91789", "class_held_out": "6", "held_best": "1.0"},
            "cnn": {"held_before": "0.8", "held_after": "1.0", "valid_before": "0.99", "valid_after": "0.989",
                    "held_best": "1.0"}}
    text = class_model_summary(meta)
    assert "Linear: 80.0% → 83.3% on the class's 6 held-out drawings, MNIST 92.0% → 91.8%" in text
    assert "its curve reached 100.0%" in text  # the curve's best was not kept: it says so
    assert "CNN: 80.0% → 100.0% on the class's held-out drawings, MNIST 99.0% → 98.9%." in text


def test_the_class_training_never_sends_anyone_to_my_trained_weights():
    text = ("Finished after 12 s. Linear: MNIST validation 92.00% → 91.80%, your 6 held-out digits 80% → 83%. "
            "Your weights are ready: pick “my trained weights” in the Draw tab, or download them below. "
            "Linear: The adaptive fine-tune tried shares 10% of your digits: your 6 held-out digits 80% → 83%.")
    said = class_progress(text)
    assert "my trained weights" not in said and "your" not in said.lower().replace("your class", "")
    assert "Give it to the class" in said and "the class's 6 held-out drawings" in said
    assert class_progress(None) is None


def test_no_teacher_text_gives_the_wrong_advice():
    import inspect

    from mnist_demo.classes import teacher, training, views

    for fn in (training.train_class, training.publish, views.class_model_summary, teacher.teacher_links):
        assert "my trained weights" not in inspect.getsource(fn)


def test_the_class_curves_have_short_names_each_with_its_own_colour():
    import pandas as pd

    from mnist_demo.classes.training import CLASS_ACC_COLOURS, best_held, class_curves

    frame = pd.DataFrame({"epoch": [0, 1, 1], "accuracy": [80.0, 100.0, np.nan],
                          "model": ["Linear · your held-out digits"] * 2 + ["CNN"]})
    named = class_curves(frame)
    assert set(named["model"]) <= set(CLASS_ACC_COLOURS) and len(set(CLASS_ACC_COLOURS.values())) == 4
    assert best_held(named) == {"linear": 1.0}


def test_the_teachers_export_reads_back_as_the_classs_drawings(room, page):
    """The export a teacher downloads is what the command line's --own-digits and Your digits read."""
    from mnist_demo.classes.teacher import export_class
    from mnist_demo.digit_files import read_digit_files

    teacher = Session()
    start_class(room, page, False, teacher, request())
    code = teacher.seat.teaching
    student = room.join(code, "a")
    for i in range(1, 6):
        keep(room, code, student, i, label=i % 10)
    files = [f["path"] for f in export_class(room, teacher).value]
    assert [f.rsplit(".", 1)[-1] for f in files] == ["gz", "gz", "zip"]
    for pair in (files[:2], files[2:]):  # the IDX pair, and the zip of PNGs, each whole
        pixels, labels = read_digit_files(pair)
        assert sorted(labels.tolist()) == [1, 2, 3, 4, 5] and pixels.shape == (5, 784)
