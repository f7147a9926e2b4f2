"""The Class tab's handlers in process, on a real classroom database: joining by link, by code
and back after a reload; a keep sent once; the class's model reaching a student's pad; the wall
redrawn only on change; the teacher's moderation; and the addresses the join link is made from."""

import base64
import typing
from types import SimpleNamespace

import gradio as gr
import pytest

from mnist_demo import lan
from mnist_demo.classroom import Classroom
from mnist_demo.inference import Predictor
from mnist_demo.page_assets import CLASS, MINE, SHIPPED, page_weights
from mnist_demo.session import Session
from mnist_demo.ui_class import (
    ClassPage,
    ValidationScores,
    base_url,
    bind,
    check_class_model,
    open_page,
    publish,
    refresh_wall,
    remove_one,
    send_kept,
    start_class,
)
from mnist_demo.weights import weights_to_bytes

NAMES = ("status", "join_box", "leave", "line", "student_timer", "stored", "start", "teacher_view",
         "teacher_card", "lock", "teacher_drawings", "teacher_timer", "app_view", "wall_view", "wall", "wall_timer",
         "tabs", "pad", "confirm")


@pytest.fixture
def page():
    return ClassPage(**{n: n for n in NAMES}, choices=["choice-linear", "choice-cnn"])


@pytest.fixture
def classroom(tmp_path):
    with Classroom(tmp_path) as c:
        yield c


@pytest.fixture(scope="module")
def predictor():
    return Predictor()


def request(query=None, host="127.0.0.1:7860", client="10.0.0.5", **headers):
    return SimpleNamespace(headers={"host": host, **headers}, client=SimpleNamespace(host=client),
                           query_params=query or {}, url=SimpleNamespace(scheme="http"))


def kept(i, label=3, said=None):
    entry = {"id": 1000 + i, "label": label, "pixels": base64.b64encode(bytes([40]) * 784).decode()}
    if said is not None:
        entry["said"] = said
    return gr.EventData(None, entry)


def opened(classroom, page, session, params=None, stored=None):
    """The page opened at ``?params``, with what this browser stored (page/class_seat.js)."""
    return open_page(classroom, page, session, gr.EventData(None, {"params": params or {}, "stored": stored}),
                     request())


def joined(classroom, page, code):
    session = Session()
    opened(classroom, page, session, {"class": code})
    return session


def test_a_join_link_joins_and_the_browser_remembers_the_class(classroom, page):
    code = classroom.create_class().code
    session = Session()
    out = opened(classroom, page, session, {"class": code.lower()})
    assert session.seat.code == code and classroom.is_member(code, session.seat.student)
    stored = out["stored"].props["seat"]
    assert stored == {"code": code, "student": session.seat.student, "teacher": None}
    # A reload: a new session, the browser's stored seat, no link.
    again = Session()
    opened(classroom, page, again, {}, stored)
    assert (again.seat.code, again.seat.student) == (code, session.seat.student)
    # A reload of the join link itself (Gradio reloads a page after a restart): the same student.
    third = Session()
    opened(classroom, page, third, {"class": code}, stored)
    assert third.seat.student == session.seat.student and classroom.summary(code).students == 1


def test_a_page_outside_any_class_is_left_alone(classroom, page):
    out = opened(classroom, page, Session())
    assert all(v == gr.skip() for v in out.values()) and set(out) == set(page.outputs())


def test_a_wrong_code_gets_a_sentence_and_joins_nothing(classroom, page):
    session = Session()
    out = opened(classroom, page, session, {"class": "ACDACD"})
    assert session.seat.code is None and out["status"].startswith("⚠️")


def test_a_keep_reaches_the_class_once_with_the_answers_the_page_showed(classroom, page, predictor):
    code = classroom.create_class().code
    session = joined(classroom, page, code)
    for _ in range(2):  # a double tap, or a retry: the same device-made id
        send_kept(classroom, predictor, session, kept(1, label=7, said={"linear": 1, "cnn": 7}))
    (d,) = classroom.drawings(code)
    assert (d.drawing_id, d.label, d.linear, d.cnn, d.student) == (1001, 7, 1, 7, session.seat.student)
    assert session.seat.sent == 1


def test_without_answers_from_the_page_the_shipped_models_answer(classroom, page, predictor):
    code = classroom.create_class().code
    session = joined(classroom, page, code)
    send_kept(classroom, predictor, session, kept(2, said={"linear": "seven"}))
    (d,) = classroom.drawings(code)
    expected = predictor.predict_batch([[40 / 256] * 784])
    assert (d.linear, d.cnn) == (int(expected["linear"][0]), int(expected["cnn"][0]))


def test_a_bad_keep_gets_a_sentence_and_stores_nothing(classroom, page, predictor):
    code = classroom.create_class().code
    session = joined(classroom, page, code)
    line = send_kept(classroom, predictor, session, gr.EventData(None, {"id": 5, "label": 3, "pixels": "xx"}))
    assert "Not sent" in line.value and classroom.count(code) == 0


def test_no_class_no_keep_sent(classroom, predictor):
    assert send_kept(classroom, predictor, Session(), kept(3)) is not None  # gr.skip(): nothing to update
    assert classroom.classes() == []


def published_class(classroom, predictor):
    new = classroom.create_class()
    meta = {n: {"valid_acc": "0.9", "held_before": "0.5", "held_after": "0.8", "valid_before": "0.93",
                "valid_after": "0.92"} for n in predictor.models}
    classroom.publish_model(new.code, {n: weights_to_bytes(m, meta[n]) for n, m in predictor.models.items()}, meta)
    return new


def test_the_class_model_becomes_a_choice_and_answers_where_chosen(classroom, page, predictor):
    new = published_class(classroom, predictor)
    session = joined(classroom, page, new.code)
    shipped_page = {n: page_weights(m, SHIPPED) for n, m in predictor.models.items()}
    out = check_class_model(classroom, page, shipped_page, session, CLASS, SHIPPED)
    assert out["choice-linear"].choices == [(c, c) for c in (SHIPPED, MINE, CLASS)]
    models = out["pad"].props["models"]
    assert models["linear"]["source"] == CLASS and models["cnn"]["source"] == SHIPPED
    assert check_class_model(classroom, page, shipped_page, session, CLASS, SHIPPED) == {"line": gr.skip()}
    classroom.end_class(new.code)  # the class ends: the page leaves it, and its model goes
    out = check_class_model(classroom, page, shipped_page, session, CLASS, SHIPPED)
    assert session.seat.code is None and out["pad"].props["models"]["linear"]["source"] == SHIPPED
    assert out["choice-linear"].choices == [(c, c) for c in (SHIPPED, MINE)]


def test_the_wall_is_redrawn_only_when_the_class_changes(classroom, page, predictor):
    new = classroom.create_class()
    wall = Session()
    opened(classroom, page, wall, {"wall": new.wall_token})
    scores = ValidationScores({})
    scores.confusions = {}  # as if computed: no MNIST needed here
    html, _ = refresh_wall(classroom, scores, wall)
    assert 'data-count="0"' in html
    assert refresh_wall(classroom, scores, wall)[0] == gr.skip()
    student = joined(classroom, page, new.code)
    send_kept(classroom, predictor, student, kept(4, said={"linear": 3, "cnn": 3}))
    assert 'data-count="1"' in refresh_wall(classroom, scores, wall)[0]
    classroom.end_class(new.code)
    assert "has ended" in refresh_wall(classroom, scores, wall)[0]


def test_a_wall_token_is_not_a_teacher_link(classroom, page):
    new = classroom.create_class()
    session = Session()
    opened(classroom, page, session, {"teach": new.wall_token})
    assert session.seat.teaching is None


def test_the_teacher_removes_all_of_one_students_drawings(classroom, page, predictor):
    teacher = Session()
    start_class(classroom, page, teacher, request())
    code = teacher.seat.teaching
    one, other = joined(classroom, page, code), joined(classroom, page, code)
    for i in range(3):
        send_kept(classroom, predictor, one, kept(i, said={"linear": 3, "cnn": 3}))
    send_kept(classroom, predictor, other, kept(9, said={"linear": 3, "cnn": 3}))
    remove_one(classroom, teacher, gr.EventData(None, {"id": 1001, "whose": True}))
    assert [d.drawing_id for d in classroom.drawings(code)] == [1009]
    assert not classroom.is_member(code, one.seat.student) and classroom.is_member(code, other.seat.student)


def test_publishing_needs_a_training(classroom, page):
    teacher = Session()
    start_class(classroom, page, teacher, request())
    with pytest.raises(gr.Error, match="Train on the class first"):
        publish(classroom, teacher)


def test_join_links_use_the_address_students_can_reach(monkeypatch):
    assert base_url(request(host="mnist.example.org")) == "http://mnist.example.org/"
    assert base_url(request(**{"x-forwarded-host": "me-mnist.hf.space", "x-forwarded-proto": "https"})) == \
        "https://me-mnist.hf.space/"
    monkeypatch.setattr(lan, "SERVING_LAN", True)
    monkeypatch.setattr(lan, "local_addresses", lambda: ["192.168.1.20"])
    assert base_url(request(host="localhost:7861")) == "http://192.168.1.20:7861/"
    monkeypatch.setattr(lan, "SERVING_LAN", False)  # serving this machine only: localhost is right
    assert base_url(request(host="localhost:7861")) == "http://localhost:7861/"


def test_bind_keeps_the_annotations_gradio_reads():
    def handler(store, session, evt: gr.EventData, request: gr.Request):
        return store, session, evt, request

    bound = bind(handler, "store")
    assert list(typing.get_type_hints(bound)) == ["evt", "request"]
    assert list(__import__("inspect").signature(bound).parameters) == ["session", "evt", "request"]
    assert bound("s", "e", "r") == ("store", "s", "e", "r")


def test_one_keep_event_files_the_drawing_in_the_collection_and_the_class(classroom, page, predictor):
    from mnist_demo.ui_class import keep_drawing

    code = classroom.create_class().code
    session = joined(classroom, page, code)
    summary, line = keep_drawing(classroom, predictor, session, kept(6, label=4, said={"linear": 4, "cnn": 9}))
    assert len(session.digits) == 1 and "1 kept" in summary
    assert [(d.drawing_id, d.label, d.cnn) for d in classroom.drawings(code)] == [(1006, 4, 9)]
    assert "1 sent" in line.value


def test_the_class_training_keeps_within_the_hosts_caps(classroom, page, predictor, monkeypatch):
    import dataclasses

    from mnist_demo import ui_class
    from mnist_demo.settings import from_env

    asked = []
    monkeypatch.setattr(ui_class, "training_stream", lambda req, *rest: asked.append(req.config) or iter(()))
    teacher = Session()
    start_class(classroom, page, teacher, request())
    student = joined(classroom, page, teacher.seat.teaching)
    for i in range(8):
        send_kept(classroom, predictor, student, kept(i, label=i % 4, said={"linear": 0, "cnn": 0}))
    settings = dataclasses.replace(from_env({}), max_digits=1000, max_epochs=2)
    list(ui_class.train_class(classroom, settings, predictor.models, teacher))
    (cfg,) = asked
    assert cfg.limit == 1000 and cfg.epochs == 2
