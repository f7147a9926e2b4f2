"""limits: bodies over a route's limit get HTTP 413 and a sentence before Gradio reads them,
over real HTTP against a small app launched as app.py launches the real one; the REST routes
that skip the queue are closed; memory is given back."""

import base64
import http.client
import json
import os
import time
from pathlib import Path

import gradio as gr
import pytest
from gradio_client import handle_file
from PIL import Image

from benchmarks.harness.client import api_client
from benchmarks.harness.launcher import free_port
from mnist_demo.collection import CAP
from mnist_demo.limits import (
    COMPONENT_SERVER_LIMIT,
    DEFAULT_LIMIT,
    ORPHAN_SECONDS,
    QUEUE_JOIN_LIMIT,
    STALE_SECONDS,
    UPLOAD_LIMIT,
    UploadBudget,
    app_kwargs,
    closed_routes,
)


@pytest.fixture(scope="module")
def server():
    with gr.Blocks() as demo:
        f = gr.File(type="filepath")
        out = gr.JSON()
        gr.Button().click(lambda p: {"size": Image.open(p).size}, f, out, api_name="classify")
        secret = gr.Textbox()
        gr.Button().click(lambda s: s.upper(), secret, secret, api_visibility="private")
    port = free_port()
    demo.queue(api_open=False).launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True,
                                      quiet=True, app_kwargs=app_kwargs() | {"routes": closed_routes()})
    yield port
    demo.close()


def post(port, path, body, headers=None, chunked=False):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Content-Type": "application/json", **(headers or {})}
    if chunked:
        headers["Transfer-Encoding"] = "chunked"
    try:
        conn.request("POST", path, body=body, headers=headers, encode_chunked=chunked)
        response = conn.getresponse()
        return response.status, response.read()
    except (ConnectionResetError, BrokenPipeError):  # the server answered and closed before all was sent
        return None, b""
    finally:
        conn.close()


def test_the_limits_fit_what_the_app_sends():
    assert UPLOAD_LIMIT > 10 * 1024 * 1024  # a 10 MB picture and its multipart framing
    assert COMPONENT_SERVER_LIMIT > (10 * 1024 * 1024) * 4 // 3 + 2 * 1_333_336  # data URL + two weights
    assert DEFAULT_LIMIT >= 784 * 25 * 4  # the pad's 784 numbers, many times over
    # The page's restore: a full collection as page/store.js keeps it, and both trained weights.
    entry = json.dumps({"id": 2**53 - 1, "label": 7, "pixels": base64.b64encode(bytes(784)).decode()})
    assert QUEUE_JOIN_LIMIT > CAP * (len(entry) + 1) + 2 * 1_333_336


def test_a_declared_body_over_the_limit_is_refused_before_it_is_read(server):
    status, body = post(server, "/gradio_api/component_server", b"[" * 100,
                        headers={"Content-Length": str(150 * 1024 * 1024)})
    assert status == 413
    assert "The request is too large: this app accepts at most" in json.loads(body)["detail"]


@pytest.mark.parametrize("path, limit", [("/gradio_api/queue/join", QUEUE_JOIN_LIMIT),
                                         ("/gradio_api/cancel", DEFAULT_LIMIT),
                                         ("/gradio_api/component_server", COMPONENT_SERVER_LIMIT),
                                         ("/gradio_api/upload", UPLOAD_LIMIT)])
def test_a_streamed_body_is_counted_and_refused_at_its_limit(server, path, limit):
    status, body = post_past(server, path, limit)
    assert status in (413, None)
    if status == 413:
        assert "too large" in json.loads(body)["detail"]


def post_past(port, path, limit):
    """A chunked body that goes on 4 MB past ``limit`` (for an upload, one file's part)."""
    def chunks():
        sent = 0
        if path.endswith("upload"):
            yield (b'--b\r\nContent-Disposition: form-data; name="files"; filename="a.png"\r\n'
                   b"Content-Type: image/png\r\n\r\n")
        while sent < limit + 4 * 1024 * 1024:
            sent += 256 * 1024
            yield b" " * (256 * 1024)

    multipart = {"Content-Type": "multipart/form-data; boundary=b"} if path.endswith("upload") else {}
    return post(port, path, chunks(), headers=multipart, chunked=True)


def aged(path: Path, seconds: float) -> Path:
    os.utime(path, (time.time() - seconds, time.time() - seconds))
    return path


def test_an_upload_cut_off_leaves_gradios_file_and_the_budget_removes_it_once_untouched(tmp_path, monkeypatch):
    """Gradio's upload route writes a file part to "tmp…" in its folder as it reads it, and removes
    it only when its own parser fails: an upload cut off at its limit (or by a lost connection) left
    11 MB there for good, and 23 of them took the folder past its cap, refusing every upload after."""
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path))  # Gradio's folder, this app's alone
    with gr.Blocks() as demo:
        gr.File()
    port = free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True,
                app_kwargs=app_kwargs(uploads=UploadBudget(folder=tmp_path)))
    try:
        status, _ = post_past(port, "/gradio_api/upload", UPLOAD_LIMIT)
    finally:
        demo.close()
    assert status in (413, None)
    left = [p for p in tmp_path.iterdir() if p.is_file() and p.name.startswith("tmp")]
    assert left and max(p.stat().st_size for p in left) > UPLOAD_LIMIT // 2  # Gradio's leftover
    budget = UploadBudget(folder=tmp_path)
    assert budget._measure() >= sum(p.stat().st_size for p in left)  # just written: maybe still being read
    for p in left:
        aged(p, ORPHAN_SECONDS + 1)
    assert budget._measure() == 0 and not any(p.exists() for p in left)


def test_the_budget_counts_the_running_apps_files_and_removes_only_broken_off_uploads(tmp_path):
    kept = tmp_path / "3f2a" / "image.webp"  # a visitor's file, moved to a folder of its hash
    kept.parent.mkdir()
    kept.write_bytes(bytes(1000))
    reading = tmp_path / "tmpreading"  # an upload being read
    reading.write_bytes(bytes(300))
    broken = tmp_path / "tmpbroken"  # last written to over 5 minutes ago
    broken.write_bytes(bytes(5000))
    aged(broken, ORPHAN_SECONDS + 1)
    inner = kept.parent / "tmpold"  # not at the top: not an upload's
    inner.write_bytes(bytes(20))
    aged(inner, ORPHAN_SECONDS + 1)
    assert UploadBudget(folder=tmp_path)._measure() == 1000 + 300 + 20
    assert not broken.exists() and reading.exists() and inner.exists()
    # Hours later, as a restarted app finds them: a stopped run's files are not counted, and stay.
    later = UploadBudget(folder=tmp_path, wall=lambda: time.time() + STALE_SECONDS + 60)
    assert later._measure() == 0 and kept.exists() and inner.exists() and not reading.exists()


def test_a_file_of_an_upload_still_being_read_stays_however_long_it_waits(tmp_path):
    """Gradio writes a request's files one after another and moves them once it has read the last:
    the first of a slow phone's IDX pair may wait unwritten for minutes."""
    start = time.time()
    now = [start]
    budget = UploadBudget(folder=tmp_path, wall=lambda: now[0])
    ticket = budget.reserve(1000)
    first = tmp_path / "tmpfirst"  # the pair's images, written once the upload had begun
    first.write_bytes(bytes(700))
    os.utime(first, (start + 1, start + 1))
    now[0] = start + ORPHAN_SECONDS + 100  # the labels still on their way
    assert budget._measure() == 700 and first.exists()
    budget.release(ticket, 1000, 0)  # broken off: nothing will move it now
    assert budget._measure() == 0 and not first.exists()


def test_small_requests_pass_and_the_client_works_through_the_queue(server, tmp_path):
    Image.new("RGB", (30, 20)).save(tmp_path / "p.png")
    client = api_client(f"http://127.0.0.1:{server}/")
    assert client.predict(handle_file(str(tmp_path / "p.png")), api_name="/classify") == {"size": [30, 20]}


@pytest.mark.parametrize("path", ["/gradio_api/run/classify", "/gradio_api/api/classify", "/gradio_api/run/predict"])
def test_the_rest_routes_that_skip_the_queue_are_closed(server, path):
    status, _ = post(server, path, json.dumps({"data": ["x"], "fn_index": 1}).encode())
    assert status in (404, 422), status  # api_open=False: "join the queue"


def test_no_caller_can_make_the_server_write_deep_links(server):
    """/gradio_api/deep_link wrote a 412 kB file per distinct session state into the upload folder,
    for anyone, never deleted: 404 and a sentence now, for the app too (ui.ROUTES)."""
    from gradio.utils import get_upload_folder

    from mnist_demo.limits import NO_DEEP_LINKS
    from mnist_demo.ui import ROUTES

    folder = Path(get_upload_folder()) / "deep_links"
    before = sorted(folder.rglob("*")) if folder.exists() else []
    conn = http.client.HTTPConnection("127.0.0.1", server, timeout=30)
    conn.request("GET", "/gradio_api/deep_link?session_hash=abc")
    reply = conn.getresponse()
    assert (reply.status, reply.read().decode()) == (404, NO_DEEP_LINKS)
    assert (sorted(folder.rglob("*")) if folder.exists() else []) == before
    assert "/gradio_api/deep_link" in [route.path for route in ROUTES]


def test_idle_sessions_are_all_but_the_last_used_and_those_too_once_idle():
    """The sweep shrinks every session past the ``keep`` used last, and the last used too once
    nobody has used them for ``idle`` seconds: a crowd that has stopped holds only what it must."""
    import datetime
    from collections import OrderedDict
    from types import SimpleNamespace

    from mnist_demo.limits import idle_sessions

    now = datetime.datetime(2026, 12, 6, 12, 0, 0)
    ages = {"a": 100, "b": 50, "c": 8, "d": 2, "e": 0}  # seconds since last used, oldest first
    holder = SimpleNamespace(session_data=OrderedDict((k, k.upper()) for k in ages),
                             time_last_used={k: now - datetime.timedelta(seconds=s) for k, s in ages.items()})
    assert idle_sessions(holder, keep=3, idle=5, now=now) == ["A", "B", "C"]  # C: among the last 3, but idle
    assert idle_sessions(holder, keep=3, idle=60, now=now) == ["A", "B"]  # the last 3, none idle that long
    assert idle_sessions(holder, keep=10, idle=5, now=now) == ["A", "B", "C"]
    assert idle_sessions(holder, keep=0, idle=3600, now=now) == ["A", "B", "C", "D", "E"]
    del holder.time_last_used["e"]  # never recorded: idle
    assert idle_sessions(holder, keep=10, idle=5, now=now) == ["A", "B", "C", "E"]


def test_an_emptied_config_entry_takes_gradios_write_and_keeps_nothing():
    """Gradio looks an entry's "props" up, then writes props["value"]; the sweep may empty the entry
    between the two (issue 27's idle sessions): the write must neither fail the event nor stay."""
    from gradio.state_holder import SessionState

    from mnist_demo.limits import EMPTIED

    assert not EMPTIED and "props" not in EMPTIED  # Gradio passes it by (SessionState.components)
    EMPTIED["props"]["value"] = "x" * 1000  # the write of an entry found full and emptied since
    EMPTIED["props"] = {"value": 1}
    assert EMPTIED == {} and not EMPTIED

    state = SessionState.__new__(SessionState)  # Gradio's own writer, against an emptied entry
    state.config_values = {7: EMPTIED}
    state._update_value_in_config(7, "a value")
    assert state.config_values[7] is EMPTIED and not EMPTIED
