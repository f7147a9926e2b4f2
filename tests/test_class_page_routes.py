"""The teacher's page's two routes (classes/page_routes.py), in process, through Gradio's own
FastAPI app with the body-limit middleware the app installs: the class's drawings for its teacher
alone, split as the server's training splits them; a class model uploaded from the page, checked
and given to the class as "Give it to the class" gives it; every refusal a sentence that changes
nothing (a wrong token, an ended class, too many calls, too large a body, bad weights, bad notes)."""

from __future__ import annotations

import base64
import hashlib
import json
import math
from pathlib import Path

import gradio as gr
import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient

from mnist_demo.classes import page_routes
from mnist_demo.classes.page_routes import TOKEN_HEADER, ClassPageRoutes
from mnist_demo.classes.store import Classroom, to_digits
from mnist_demo.classes.views import class_model_note, too_few_to_train
from mnist_demo.collection import Digits
from mnist_demo.limits import CLASS_MODEL_BODY_LIMIT, app_kwargs
from mnist_demo.models import MODEL_NAMES
from mnist_demo.weights import weights_from_bytes

WEIGHTS = Path(__file__).resolve().parents[1] / "weights"
NOTES = {"held_before": 0.5, "held_after": 0.75, "valid_before": 0.97, "valid_after": 0.965, "held_best": 0.8,
         "class_drawings": 20, "class_held_out": 5, "valid_count": 2000, "valid_every": 10}


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


@pytest.fixture(scope="module")
def room(tmp_path_factory):
    """One classroom for the module: each test makes classes of its own (the limits are per class)."""
    with Classroom(tmp_path_factory.mktemp("data")) as classroom:
        yield classroom


def fill(room: Classroom, code: str, labels) -> None:
    student, rng = room.join(code, "client"), np.random.default_rng(len(labels))
    for i, label in enumerate(labels):
        room._keeps.forget([student])  # not a rate test
        room.add_drawing(code, student, i + 1, int(label), int(label), int(label),
                         rng.integers(0, 256, 784, dtype=np.uint8).tobytes())


@pytest.fixture(scope="module")
def served(room):
    """(http client, classroom, routes' state, clock): the routes behind the app's middleware."""
    with gr.Blocks() as demo:
        gr.Markdown("x")
    clock = Clock()
    demo.class_page = ClassPageRoutes(room, clock=clock)
    app = gr.routes.App.create_app(demo, app_kwargs=app_kwargs() | {"routes": page_routes.routes()})
    with TestClient(app) as client:
        yield client, room, demo.class_page, clock


@pytest.fixture(autouse=True)
def a_fresh_client(served):
    """Every test's calls all come from one client (TestClient's address): each test starts with that
    client's minute unspent, as the per-class minutes start unspent in each test's own classes."""
    _, _, routes, clock = served
    routes.client_limit = page_routes.PerMinute(page_routes.CLIENT_CALLS_PER_MINUTE, clock)


def weights_b64(name: str) -> str:
    return base64.b64encode((WEIGHTS / f"{name}.safetensors").read_bytes()).decode()


def upload(client, token, models=None, notes=None, body=None):
    models = {n: weights_b64(n) for n in MODEL_NAMES} if models is None else models
    notes = {n: dict(NOTES) for n in models} if notes is None else notes
    content = json.dumps({"models": models, "notes": notes}).encode() if body is None else body
    return client.post("/class-page/model", content=content, headers={TOKEN_HEADER: token} if token else {})


def weights_folder_hash() -> str:
    return hashlib.sha256(b"".join(p.read_bytes() for p in sorted(WEIGHTS.iterdir()))).hexdigest()


def test_the_drawings_go_to_their_teacher_alone_split_as_the_servers_training_splits_them(served):
    client, room, _, _ = served
    new = room.create_class()
    fill(room, new.code, [d % 10 for d in range(23)])
    for headers in ({}, {TOKEN_HEADER: "x" * 32}, {TOKEN_HEADER: new.wall_token}):
        refused = client.get("/class-page/drawings", headers=headers)
        assert refused.status_code == 403 and "ended" in refused.json()["error"], headers
    got = client.get("/class-page/drawings", headers={TOKEN_HEADER: new.teacher_token})
    assert got.status_code == 200 and got.headers["cache-control"] == "no-store"
    body = got.json()
    own, held = to_digits(room.drawings(new.code)).split()
    assert 0 < len(held) < len(own) and body["drawings"] == 23
    for part, digits in (("train", own), ("held", held)):
        assert body[part]["count"] == len(digits) and body[part]["labels"] == digits.labels.tolist()
        assert base64.b64decode(body[part]["pixels"]) == digits.pixels.tobytes()


def test_too_few_drawings_get_the_servers_own_sentence(served):
    client, room, _, _ = served
    new = room.create_class()
    empty = client.get("/class-page/drawings", headers={TOKEN_HEADER: new.teacher_token})
    none = Digits(np.zeros((0, 784), np.uint8), np.zeros(0, np.uint8), np.zeros(0, np.int64))
    assert empty.status_code == 409 and empty.json()["error"] == too_few_to_train(none, none)
    fill(room, new.code, [0, 0])  # two 0s: neither is held out yet (the fourth 0 would be)
    own, held = to_digits(room.drawings(new.code)).split()
    few = client.get("/class-page/drawings", headers={TOKEN_HEADER: new.teacher_token})
    assert len(held) == 0 and few.status_code == 409 and few.json()["error"] == too_few_to_train(own, held)
    assert "held out" in few.json()["error"]


def test_an_ended_class_is_refused_on_both_routes(served):
    client, room, _, _ = served
    new = room.create_class()
    fill(room, new.code, range(10))
    room.end_class(new.code)
    assert client.get("/class-page/drawings", headers={TOKEN_HEADER: new.teacher_token}).status_code == 403
    refused = upload(client, new.teacher_token)
    assert refused.status_code == 403 and refused.json()["error"]


def test_each_class_has_its_own_minute_of_calls(served):
    client, room, _, clock = served
    first, second = room.create_class(), room.create_class()
    for new in (first, second):
        fill(room, new.code, range(10))
    ask = lambda new: client.get("/class-page/drawings", headers={TOKEN_HEADER: new.teacher_token})  # noqa: E731
    assert [ask(first).status_code for _ in range(page_routes.DRAWINGS_PER_MINUTE)] == [200] * 6
    late = ask(first)
    assert late.status_code == 429 and "try again in" in late.json()["error"] and int(late.headers["retry-after"]) > 0
    assert ask(second).status_code == 200  # another class is not slowed
    clock.now += 61
    assert ask(first).status_code == 200
    # Uploads: three a minute.
    codes = [upload(client, first.teacher_token).status_code for _ in range(page_routes.MODELS_PER_MINUTE + 1)]
    assert codes == [200, 200, 200, 429]


def test_a_good_upload_reaches_the_class_as_the_servers_training_gives_it(served):
    client, room, _, _ = served
    new = room.create_class()
    before = weights_folder_hash()
    answer = upload(client, new.teacher_token)
    assert answer.status_code == 200, answer.text
    assert answer.json()["model_version"] == room.model_version(new.code) == 1
    assert "50.0% → 75.0%" in answer.json()["summary"]
    version, blobs, notes = room.class_models(new.code)
    assert set(blobs) == set(MODEL_NAMES)
    for name in MODEL_NAMES:
        model, meta = weights_from_bytes(blobs[name])
        shipped, _ = weights_from_bytes((WEIGHTS / f"{name}.safetensors").read_bytes())
        for key, tensor in shipped.state_dict().items():
            assert torch.equal(model.state_dict()[key], tensor), key
        # The notes as the server's training writes them: text, in the weights' metadata too.
        assert notes[name]["held_after"] == meta["held_after"] == "0.750000"
        assert notes[name]["class_held_out"] == "5"
    wall = class_model_note(room.class_model_notes(new.code))
    assert "50.0% → <b>75.0%</b>" in wall and "MNIST 97.0% → 96.5%" in wall
    assert weights_folder_hash() == before  # nothing written to weights/


def bad_cases():
    linear_as_cnn = {"cnn": weights_b64("linear")}
    yield "not json", dict(body=b"{not json")
    yield "no models", dict(models={})
    yield "an unknown model", dict(models={"resnet": weights_b64("linear")}, notes={"resnet": NOTES})
    yield "notes missing", dict(notes={})
    yield "not base64", dict(models={"linear": "%%%"})
    yield "not safetensors", dict(models={"linear": base64.b64encode(b"\x10" + b"\0" * 7 + b"{}junk").decode()})
    yield "another model's weights", dict(models=linear_as_cnn)
    for key, value in (("held_after", math.nan), ("held_after", math.inf), ("held_after", 1.5), ("valid_before", -0.1),
                       ("held_after", "0.5"), ("held_after", True), ("held_after", None), ("class_drawings", 2.5),
                       ("class_held_out", -1), ("class_drawings", "12"), ("surprise", 0.5),
                       # JSON's integers have no bound: past a float's range (was an OverflowError: HTTP 500)
                       ("held_after", 10 ** 400), ("class_drawings", 10 ** 400)):
        yield f"{key}={value!r}"[:40], dict(notes={"linear": NOTES | {key: value}},
                                            models={"linear": weights_b64("linear")})
    yield "a required figure missing", dict(notes={"linear": {k: v for k, v in NOTES.items() if k != "valid_after"}},
                                            models={"linear": weights_b64("linear")})


def nan_weights_b64(value: float = math.nan, name: str = "linear") -> str:
    from mnist_demo.models import build_model
    from mnist_demo.weights import weights_to_bytes

    model = build_model(name)
    with torch.no_grad():
        next(iter(model.parameters())).view(-1)[0] = value
    return base64.b64encode(weights_to_bytes(model)).decode()


@pytest.mark.parametrize("case", [c for c, _ in bad_cases()])
def test_bad_uploads_get_a_sentence_and_change_nothing(served, case):
    client, room, _, _ = served
    new = room.create_class()
    upload(client, new.teacher_token)  # a model given before: it must stay
    kept = room.class_models(new.code)
    answer = upload(client, new.teacher_token, **dict(bad_cases())[case])
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"].endswith("."), answer.json()
    assert room.class_models(new.code) == kept


def test_weights_holding_nan_are_refused(served):
    client, room, _, _ = served
    new = room.create_class()
    answer = upload(client, new.teacher_token, models={"linear": nan_weights_b64()}, notes={"linear": NOTES})
    assert answer.status_code == 400 and "NaN" in answer.json()["error"]
    assert room.class_models(new.code) is None


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_finite_weights_that_overflow_are_refused(served, name):
    """1e38 passes every weights file's checks (finite, float32), yet every answer is then NaN: the
    class's pads and wall would all show garbage."""
    from mnist_demo.models import build_model
    from mnist_demo.weights import weights_to_bytes

    client, room, _, _ = served
    new = room.create_class()
    model = build_model(name)
    with torch.no_grad():
        for tensor in model.parameters():
            tensor.fill_(3e38)
    assert torch.isnan(torch.softmax(model(torch.ones(1, 784)), 1)).all()  # what the pads would answer
    huge = base64.b64encode(weights_to_bytes(model)).decode()
    answer = upload(client, new.teacher_token, models={name: huge}, notes={name: NOTES})
    assert answer.status_code == 400 and "overflow" in answer.json()["error"], answer.text
    one_large = nan_weights_b64(page_routes.MAX_WEIGHT * 2, name)
    assert upload(client, new.teacher_token, models={name: one_large}, notes={name: NOTES}).status_code == 400
    assert room.class_models(new.code) is None


def test_a_body_over_a_megabyte_is_refused_before_it_is_read(served):
    client, room, _, _ = served
    new = room.create_class()
    answer = upload(client, new.teacher_token, body=b" " * (CLASS_MODEL_BODY_LIMIT + 1))
    assert answer.status_code == 413 and "too large" in json.loads(answer.content)["error"]
    assert room.class_models(new.code) is None


def test_a_class_that_ends_while_its_model_is_on_the_way_gets_410(served, monkeypatch):
    client, room, _, _ = served
    new = room.create_class()
    publish = room.publish_model

    def ended_first(code, models, notes):  # the teacher ended the class in another tab meanwhile
        room.end_class(code)
        return publish(code, models, notes)

    monkeypatch.setattr(room, "publish_model", ended_first)
    answer = upload(client, new.teacher_token)
    assert answer.status_code == 410 and "ended" in answer.json()["error"]
    assert room.class_models(new.code) is None


def test_an_upload_past_the_minute_is_refused_before_its_body_is_read(served):
    """Any number of 1 MB uploads at once from a teacher whose minute is spent cost no memory: the
    minute is counted before the body is read (was: every body read, then refused; 800 at once
    +152 MB)."""
    client, room, _, _ = served
    new = room.create_class()
    read = []

    async def counting(scope, receive, send):  # the app, recording the body bytes it reads
        async def counted():
            message = await receive()
            read.append(len(message.get("body", b"")))
            return message
        return await client.app(scope, counted, send)

    spy = TestClient(counting)
    assert [upload(spy, new.teacher_token).status_code for _ in range(page_routes.MODELS_PER_MINUTE)] == [200] * 3
    read.clear()
    late = upload(spy, new.teacher_token)
    assert late.status_code == 429 and "try again in" in late.json()["error"]
    assert sum(read) == 0


def test_one_client_cannot_multiply_the_per_class_minute_by_its_classes(served):
    client, room, routes, _ = served
    classes = [room.create_class() for _ in range(6)]
    for new in classes:
        fill(room, new.code, range(10))
    ask = lambda http, new, headers={}: http.get(  # noqa: E731
        "/class-page/drawings", headers={TOKEN_HEADER: new.teacher_token} | headers)
    per_class = page_routes.CLIENT_CALLS_PER_MINUTE // len(classes)
    assert per_class < page_routes.DRAWINGS_PER_MINUTE
    assert {ask(client, new).status_code for new in classes for _ in range(per_class)} == {200}
    late = ask(client, classes[0])
    assert late.status_code == 429 and "from your network" in late.json()["error"] and late.headers["retry-after"]
    assert upload(client, classes[1].teacher_token).status_code == 429  # both routes count
    # X-Forwarded-For is the client's own text unless proxies are trusted (none here): no new minute.
    assert ask(client, classes[0], {"X-Forwarded-For": "203.0.113.9"}).status_code == 429
    other = TestClient(client.app, client=("198.51.100.7", 50000))  # another network
    assert ask(other, classes[0]).status_code == 200


def test_a_class_that_ends_while_its_drawings_are_read_gets_410(served, monkeypatch):
    client, room, _, _ = served
    new = room.create_class()
    fill(room, new.code, range(10))
    drawings = room.drawings

    def ended_first(code, **kwargs):  # the teacher ended the class in another tab meanwhile
        room.end_class(code)
        return drawings(code, **kwargs)

    monkeypatch.setattr(room, "drawings", ended_first)
    answer = client.get("/class-page/drawings", headers={TOKEN_HEADER: new.teacher_token})
    assert answer.status_code == 410 and "ended" in answer.json()["error"], answer.text


def test_a_client_has_at_most_a_few_drawings_on_their_way(served):
    client, room, routes, _ = served
    new = room.create_class()
    fill(room, new.code, range(10))
    routes.sending["testclient"] = page_routes.DRAWINGS_AT_ONCE  # four still being sent to this client
    busy = client.get("/class-page/drawings", headers={TOKEN_HEADER: new.teacher_token})
    assert busy.status_code == 429 and "already" in busy.json()["error"] and busy.headers["retry-after"]
    routes.sending.clear()
    assert client.get("/class-page/drawings", headers={TOKEN_HEADER: new.teacher_token}).status_code == 200
    assert not routes.sending  # its place given back once it was sent


def test_a_client_that_never_reads_its_drawings_is_cut_off_and_holds_nothing(monkeypatch):
    """uvicorn keeps a body sent at once until the client reads it, however long: the drawings go
    in pieces (each sent once the client took the last), and a client too slow is cut off."""
    import asyncio

    from starlette.responses import JSONResponse

    monkeypatch.setattr(page_routes, "SEND_SECONDS", 0.2)
    answer = JSONResponse({"pixels": "x" * (5 * page_routes.PIECE)})
    sent, released = [], []

    async def never_drains(message):  # the client took the first piece and reads no more
        if len(sent) >= 2:
            await asyncio.Event().wait()
        sent.append(message)

    # In a thread of its own: a browser test that ran before in this worker leaves Playwright's
    # event loop running in this one, where asyncio.run refuses to start another.
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as thread:
        thread.submit(asyncio.run, page_routes.PacedAnswer(answer, lambda: released.append(1))({}, None,
                                                                                             never_drains)).result()
    assert released == [1]
    assert len(sent[1]["body"]) == page_routes.PIECE and sent[1]["more_body"]  # the rest was never sent
