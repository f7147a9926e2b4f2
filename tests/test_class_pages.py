"""The Class tab's handlers in process, on a real classroom database: joining by link, by code
and back after a reload; a keep sent once; the class's model reaching a student's pad; the wall
redrawn only on change; the teacher's moderation; and the addresses the join link is made from."""

import base64
import typing
from types import SimpleNamespace

import gradio as gr
import pytest

from mnist_demo import lan
from mnist_demo.classes.addresses import base_url
from mnist_demo.classes.store import Classroom
from mnist_demo.classes.student import check_class_model, join_typed, leave_class, send_to_class, use_class_model
from mnist_demo.classes.tab import open_page
from mnist_demo.classes.teacher import remove_one, start_class
from mnist_demo.classes.training import publish
from mnist_demo.classes.wall import ValidationScores, refresh_wall
from mnist_demo.handlers import bind
from mnist_demo.inference import Predictor
from mnist_demo.page_assets import CLASS, MINE, SHIPPED, page_weights
from mnist_demo.session import Session
from mnist_demo.weights import weights_to_bytes


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


# The shipped weights as the pad receives them (only passed along by these handlers).
SHIPPED_PAGE = {n: {"source": SHIPPED, "safetensors": ""} for n in ("linear", "cnn")}


def kept(session, i, label=3, said=None):
    """A kept drawing as the pad's outbox sends it: with the seat this browser keeps."""
    entry = {"kind": "keep", "id": 1000 + i, "label": label, "pixels": base64.b64encode(bytes([40]) * 784).decode(),
             "code": session.seat.code, "student": session.seat.student}
    if said is not None:
        entry["said"] = said
    return entry


def opened(classroom, page, session, params=None, stored=None):
    """The page opened at ``?params``, with what this browser stored (page/class_seat.js)."""
    return open_page(classroom, page, SHIPPED_PAGE, False, session,
                     gr.EventData(None, {"params": params or {}, "stored": stored}), request())


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
    assert stored == {"code": code, "student": session.seat.student, "teacher": None, "state": "joined", "model": 0}
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
    replies = [send_to_class(classroom, predictor, kept(session, 1, label=7, said={"linear": 1, "cnn": 7}))
               for _ in range(2)]  # a retry after a lost answer: the same device-made id
    assert [r["result"] for r in replies] == ["stored", "stored before"]  # both acknowledge it
    (d,) = classroom.drawings(code)
    assert (d.drawing_id, d.label, d.linear, d.cnn, d.student) == (1001, 7, 1, 7, session.seat.student)


def test_a_keep_needs_only_the_seat_the_browser_keeps_not_the_servers_session(classroom, page, predictor):
    code = classroom.create_class().code
    entry = kept(joined(classroom, page, code), 1)  # that session is then forgotten (a restart, an eviction)
    assert send_to_class(classroom, predictor, entry)["result"] == "stored" and classroom.count(code) == 1


def test_without_answers_from_the_page_the_shipped_models_answer(classroom, page, predictor):
    code = classroom.create_class().code
    session = joined(classroom, page, code)
    send_to_class(classroom, predictor, kept(session, 2, said={"linear": "seven"}))
    (d,) = classroom.drawings(code)
    expected = predictor.predict_batch([[40 / 256] * 784])
    assert (d.linear, d.cnn) == (int(expected["linear"][0]), int(expected["cnn"][0]))


@pytest.mark.parametrize("entry", [None, "x", {"kind": "keep", "id": 5, "label": 3, "pixels": "xx"},
                                   {"kind": "keep", "id": -1, "label": 3}, {"kind": "withdraw", "ids": "all"}])
def test_a_bad_keep_is_refused_with_a_sentence_and_stores_nothing(classroom, page, predictor, entry):
    code = classroom.create_class().code
    session = joined(classroom, page, code)
    if isinstance(entry, dict):
        entry = entry | {"code": code, "student": session.seat.student}
    reply = send_to_class(classroom, predictor, entry)
    assert reply["result"] == "refused" and reply["message"] and classroom.count(code) == 0


def test_each_answer_says_whether_to_retry_or_give_up(tmp_path, page, predictor):
    from mnist_demo.classes.store import ClassLimits

    with Classroom(tmp_path, ClassLimits(keep_burst=1, keeps_per_second=0.001, max_drawings=2)) as classroom:
        code = classroom.create_class().code
        one, two = joined(classroom, page, code), joined(classroom, page, code)
        assert send_to_class(classroom, predictor, kept(one, 1))["result"] == "stored"
        slow = send_to_class(classroom, predictor, kept(one, 2))
        assert slow["result"] == "retry" and "Slow down" in slow["message"]  # worth another try, later
        assert send_to_class(classroom, predictor, kept(two, 3))["result"] == "stored"
        three = joined(classroom, page, code)
        full = send_to_class(classroom, predictor, kept(three, 4))
        assert (full["result"], full["state"]) == ("refused", "joined")  # the class is full: final, still in it
        stranger = kept(one, 5) | {"student": "not-a-student"}
        assert send_to_class(classroom, predictor, stranger)["state"] == "removed"
        classroom.end_class(code)
        assert send_to_class(classroom, predictor, kept(one, 6))["state"] == "ended"


def test_a_student_withdraws_their_own_drawing_and_nobody_elses(classroom, page, predictor):
    code = classroom.create_class().code
    one, other = joined(classroom, page, code), joined(classroom, page, code)
    send_to_class(classroom, predictor, kept(one, 1))
    send_to_class(classroom, predictor, kept(other, 2))
    # The other student read drawing 1001's id off the wall: their seat cannot withdraw it.
    send_to_class(classroom, predictor, {"kind": "withdraw", "ids": [1001], "code": code,
                                         "student": other.seat.student})
    assert classroom.count(code) == 2
    reply = send_to_class(classroom, predictor, {"kind": "withdraw", "ids": [1001], "code": code,
                                                 "student": one.seat.student})
    assert reply["result"] == "stored" and [d.drawing_id for d in classroom.drawings(code)] == [1002]


def test_a_removed_student_is_told_so_on_both_tabs_and_can_join_again(classroom, page, predictor):
    teacher = Session()
    start_class(classroom, page, False, teacher, request())
    code = teacher.seat.teaching
    student = joined(classroom, page, code)
    send_to_class(classroom, predictor, kept(student, 1))
    remove_one(classroom, teacher, gr.EventData(None, {"id": 1001, "whose": True}))
    out = check_class_model(classroom, page, SHIPPED_PAGE, student, SHIPPED, SHIPPED)
    assert out["stored"].props["seat"] | {"student": None} == {
        "code": code, "student": None, "teacher": None, "state": "removed", "model": 0}
    assert "took you out" in out["status"] and out["leave"].visible is False and out["join_box"].visible is True
    # "OK" on the line (or Leave) puts it away; the code box is empty, and the code typed again joins.
    out = leave_class(classroom, page, SHIPPED_PAGE, student)
    assert out["stored"].props["seat"]["code"] is None and out["code"].value == ""
    join_typed(classroom, page, SHIPPED_PAGE, student, code.lower(), request())
    assert classroom.is_member(code, student.seat.student)


def test_an_ended_class_says_ended_after_a_reload_too(classroom, page):
    code = classroom.create_class().code
    session = joined(classroom, page, code)
    stored = {"code": code, "student": session.seat.student, "state": "joined"}
    classroom.end_class(code)
    out = opened(classroom, page, Session(), {}, stored)
    assert out["stored"].props["seat"]["state"] == "ended" and "has ended" in out["status"]


def test_a_late_joiner_to_a_locked_class_is_told_so(classroom, page):
    code = classroom.create_class().code
    classroom.set_locked(code, True)
    session = Session()
    out = opened(classroom, page, session, {"class": code})
    seat = out["stored"].props["seat"]
    assert (seat["code"], seat["state"], seat["student"]) == (code, "locked", None)
    assert "not taking new students" in out["status"] and session.seat.code is None


def test_a_student_in_a_class_who_opens_a_closed_classs_link_stays_in_their_own(classroom, page):
    mine, closed = classroom.create_class().code, classroom.create_class().code
    session = joined(classroom, page, mine)
    classroom.set_locked(closed, True)
    out = opened(classroom, page, session, {"class": closed}, {"code": mine, "student": session.seat.student,
                                                               "state": "joined"})
    assert session.seat.code == mine and out["stored"].props["seat"]["state"] == "joined"
    assert "not taking new students" in out["status"]  # said, as a note


def test_a_full_class_says_full_not_locked(tmp_path, page):
    from mnist_demo.classes.store import ClassLimits

    with Classroom(tmp_path, ClassLimits(max_students=1)) as classroom:
        code = classroom.create_class().code
        joined(classroom, page, code)
        out = opened(classroom, page, Session(), {"class": code})
        assert out["stored"].props["seat"]["state"] == "full" and "is full" in out["status"]
        assert "unlock" not in out["status"]


def test_a_stranger_costs_no_prediction(classroom, predictor, monkeypatch):
    code = classroom.create_class().code
    monkeypatch.setattr(predictor, "predict_batch", lambda *a: pytest.fail("predicted for a stranger"))
    reply = send_to_class(classroom, predictor, {"kind": "keep", "id": 1, "label": 3, "code": code,
                                                 "student": "made-up", "pixels": base64.b64encode(bytes(784)).decode()})
    assert (reply["result"], reply["state"]) == ("refused", "removed")


def test_no_class_no_keep_stored(classroom, predictor):
    reply = send_to_class(classroom, predictor, {"kind": "keep", "id": 1, "label": 3, "code": "", "student": ""})
    assert reply["result"] == "refused" and classroom.classes() == []


def published_class(classroom, predictor):
    new = classroom.create_class()
    meta = {n: {"valid_acc": "0.9", "held_before": "0.5", "held_after": "0.8", "valid_before": "0.93",
                "valid_after": "0.92"} for n in predictor.models}
    classroom.publish_model(new.code, {n: weights_to_bytes(m, meta[n]) for n, m in predictor.models.items()}, meta)
    return new


def test_the_class_model_becomes_a_choice_and_answers_where_chosen(classroom, page, predictor):
    new = classroom.create_class()
    session = joined(classroom, page, new.code)
    shipped_page = {n: page_weights(m, SHIPPED) for n, m in predictor.models.items()}
    assert check_class_model(classroom, page, shipped_page, session, SHIPPED, SHIPPED) == {"stored": gr.skip()}
    meta = {n: {"valid_acc": "0.9"} for n in predictor.models}  # the teacher gives the class a model
    classroom.publish_model(new.code, {n: weights_to_bytes(m, meta[n]) for n, m in predictor.models.items()}, meta)
    out = check_class_model(classroom, page, shipped_page, session, CLASS, SHIPPED)
    assert out["stored"].props["seat"]["model"] == 1  # the class line offers it
    assert out["choice-linear"].choices == [(c, c) for c in (SHIPPED, MINE, CLASS)]
    models = out["pad"].props["models"]
    assert models["linear"]["source"] == CLASS and models["cnn"]["source"] == SHIPPED
    assert check_class_model(classroom, page, shipped_page, session, CLASS, SHIPPED) == {"stored": gr.skip()}
    classroom.end_class(new.code)  # the class ends: the page leaves it, and its model goes
    out = check_class_model(classroom, page, shipped_page, session, CLASS, SHIPPED)
    assert session.seat.code is None and out["pad"].props["models"]["linear"]["source"] == SHIPPED
    assert out["choice-linear"].choices == [(c, c) for c in (SHIPPED, MINE)]


def test_the_wall_is_redrawn_only_when_the_class_changes(classroom, page, predictor):
    new = classroom.create_class()
    wall = Session()
    opened(classroom, page, wall, {"wall": new.wall_token})
    scores = ValidationScores({}, None)
    scores.confusions = {}  # as if computed: no MNIST needed here
    html, _ = refresh_wall(classroom, scores, wall)
    assert 'data-count="0"' in html
    assert refresh_wall(classroom, scores, wall)[0] == gr.skip()
    student = joined(classroom, page, new.code)
    send_to_class(classroom, predictor, kept(student, 4, said={"linear": 3, "cnn": 3}))
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
    start_class(classroom, page, False, teacher, request())
    code = teacher.seat.teaching
    one, other = joined(classroom, page, code), joined(classroom, page, code)
    for i in range(3):
        send_to_class(classroom, predictor, kept(one, i, said={"linear": 3, "cnn": 3}))
    send_to_class(classroom, predictor, kept(other, 9, said={"linear": 3, "cnn": 3}))
    remove_one(classroom, teacher, gr.EventData(None, {"id": 1001, "whose": True}))
    assert [d.drawing_id for d in classroom.drawings(code)] == [1009]
    assert not classroom.is_member(code, one.seat.student) and classroom.is_member(code, other.seat.student)


def test_publishing_needs_a_training(classroom, page):
    teacher = Session()
    start_class(classroom, page, False, teacher, request())
    with pytest.raises(gr.Error, match="Train on the class first"):
        publish(classroom, teacher)


def test_join_links_use_the_address_students_can_reach(monkeypatch):
    assert base_url(request(host="mnist.example.org"), True) == "http://mnist.example.org/"
    assert base_url(request(**{"x-forwarded-host": "me-mnist.hf.space", "x-forwarded-proto": "https"}), False) == \
        "https://me-mnist.hf.space/"
    monkeypatch.setattr(lan, "local_addresses", lambda: ["192.168.1.20"])
    assert base_url(request(host="localhost:7861"), True) == "http://192.168.1.20:7861/"
    # serving this machine only: localhost is right
    assert base_url(request(host="localhost:7861"), False) == "http://localhost:7861/"


def test_bind_keeps_the_annotations_gradio_reads():
    def handler(store, session, evt: gr.EventData, request: gr.Request):
        return store, session, evt, request

    bound = bind(handler, "store")
    assert list(typing.get_type_hints(bound)) == ["evt", "request"]
    assert list(__import__("inspect").signature(bound).parameters) == ["session", "evt", "request"]
    assert bound("s", "e", "r") == ("store", "s", "e", "r")


def test_the_class_model_in_one_tap_and_after_a_reload(classroom, page, predictor):
    new = published_class(classroom, predictor)
    session = joined(classroom, page, new.code)
    shipped_page = {n: page_weights(m, SHIPPED) for n, m in predictor.models.items()}
    out = use_class_model(classroom, page, shipped_page, session, gr.EventData(None, {"use": True}))
    assert [out[c].value for c in page.choices] == [CLASS, CLASS]
    assert {m["source"] for m in out["pad"].props["models"].values()} == {CLASS}
    # A reload: a new session; the page sends the seat it keeps, with the models it chose.
    stored = {"code": new.code, "student": session.seat.student, "state": "joined", "chosen": ["linear", "cnn"]}
    reloaded = Session()
    out = open_page(classroom, page, shipped_page, False, reloaded,
                    gr.EventData(None, {"params": {}, "stored": stored}), request())
    assert {m["source"] for m in out["pad"].props["models"].values()} == {CLASS}
    assert out["stored"].props["seat"]["model"] == 1  # the line offers it, and says it answers
    tick = check_class_model(classroom, page, shipped_page, reloaded, CLASS, CLASS)  # the next tick
    assert "pad" not in tick and "choice-linear" not in tick  # leaves the reloaded choice alone
    back = use_class_model(classroom, page, shipped_page, session, gr.EventData(None, {"use": False}))
    assert {m["source"] for m in back["pad"].props["models"].values()} == {SHIPPED}


def test_without_a_class_model_one_tap_says_so(classroom, page):
    session = joined(classroom, page, classroom.create_class().code)
    with pytest.warns(UserWarning, match="no model yet"):
        out = use_class_model(classroom, page, SHIPPED_PAGE, session, gr.EventData(None, {"use": True}))
    assert [out[c].value for c in page.choices] == [SHIPPED, SHIPPED]


def test_the_class_training_keeps_within_the_hosts_caps(classroom, page, predictor, monkeypatch):
    import dataclasses

    from mnist_demo.classes import training
    from mnist_demo.driver import Outcome
    from mnist_demo.settings import from_process

    asked = []
    nothing = Outcome({}, {}, {}, {}, {}, {}, True, 0.0)  # a run stopped at once
    monkeypatch.setattr(training, "drive", lambda plan, *rest: asked.append(plan.config) or iter([nothing]))
    teacher = Session()
    start_class(classroom, page, False, teacher, request())
    student = joined(classroom, page, teacher.seat.teaching)
    for i in range(8):
        send_to_class(classroom, predictor, kept(student, i, label=i % 4, said={"linear": 0, "cnn": 0}))
    settings = dataclasses.replace(from_process(), max_digits=1000, max_epochs=2)
    list(training.train_class(classroom, settings, predictor.models, teacher))
    (cfg,) = asked
    assert cfg.limit == 1000 and cfg.epochs == 2


def test_the_teacher_is_warned_when_phones_cannot_open_the_join_link(classroom, page):
    from mnist_demo.classes.teacher import loopback_warning

    assert "Phones cannot open this link" in loopback_warning("http://127.0.0.1:7860/")
    assert "--host 0.0.0.0" in loopback_warning("http://localhost:7861/")
    assert loopback_warning("http://192.168.1.20:7860/") == loopback_warning("https://me-mnist.hf.space/") == ""
    card = start_class(classroom, page, False, Session(), request(host="127.0.0.1:7860"))["teacher_card"]
    assert "Phones cannot open this link" in card
