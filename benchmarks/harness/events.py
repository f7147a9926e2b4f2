"""The app's events as a page (or a hostile client) sends them, over Gradio's own queue protocol:
``POST /gradio_api/queue/join`` with a session hash, then the answer read from
``GET /gradio_api/queue/data`` (server-sent events). The private events (the Class tab's, the
pad's) have no API name, so a caller finds them by their function's name (``fn_index``).

And ``serve``: the app built in this process (``ui.build_demo``) and launched on a free loopback
port with the launch and queue options ``app.py`` uses, for tests that call its handlers through
Gradio (its validators, its state holder) in a few seconds."""

from __future__ import annotations

import contextlib
import json
import secrets
import urllib.error
import urllib.request
from collections.abc import Iterator

from .launcher import free_port


def fn_index(demo, name: str, nth: int = 0) -> int:
    """The index of the ``nth`` event whose function is called ``name`` (a partial's or bound
    handler's wrapped name), or its API name."""
    found = [i for i, fn in demo.fns.items() if name in (fn.name, fn.api_name)]
    return found[nth]


def new_session() -> str:
    return secrets.token_hex(8)


def join(url: str, index: int, data: list, session: str, event_data=None, trigger_id=None,
         headers: dict | None = None) -> dict:
    """Put one event in the queue; Gradio's answer to the join (``event_id``, or its refusal)."""
    body = json.dumps({"data": data, "fn_index": index, "session_hash": session, "event_data": event_data,
                       "trigger_id": trigger_id}).encode()
    request = urllib.request.Request(f"{url}gradio_api/queue/join", body, method="POST",
                                     headers={"content-type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return json.loads(answer.read())
    except urllib.error.HTTPError as e:
        return {"status": e.code, **json.loads(e.read() or b"{}")}


def results(url: str, session: str, timeout: float = 60.0) -> Iterator[dict]:
    """The session's queue messages as they come, until the stream closes."""
    with urllib.request.urlopen(f"{url}gradio_api/queue/data?session_hash={session}", timeout=timeout) as stream:
        for line in stream:
            line = line.decode().strip()
            if line.startswith("data:"):
                message = json.loads(line[5:])
                yield message
                if message.get("msg") == "close_stream":
                    return


def call(url: str, index: int, data: list, session: str | None = None, event_data=None,
         headers: dict | None = None, timeout: float = 60.0) -> dict:
    """One event, start to end: {"success": bool, "output": ..., "error": the message or None},
    or the join's refusal ({"success": False, "error": ...}) when Gradio refused it at the door."""
    session = session or new_session()
    joined = join(url, index, data, session, event_data, headers=headers)
    if "event_id" not in joined or not joined.get("event_id"):
        return {"success": False, "output": None, "error": joined.get("detail") or joined.get("message") or joined}
    for message in results(url, session, timeout):
        if message.get("msg") == "process_completed" and message.get("event_id") == joined["event_id"]:
            output = message.get("output") or {}
            return {"success": bool(message.get("success")), "output": output.get("data"),
                    "error": output.get("error"), "title": output.get("title")}
    return {"success": False, "output": None, "error": "the stream closed without an answer"}


@contextlib.contextmanager
def serve(demo, settings, state_session_capacity: int | None = None) -> Iterator[str]:
    """``demo`` launched as app.py launches it (its queue and launch options), on a free port;
    yields its URL and closes it afterwards."""
    from mnist_demo.ui import LAUNCH_OPTIONS, queued

    queued(demo, settings)
    port = free_port()
    extra = {} if state_session_capacity is None else {"state_session_capacity": state_session_capacity}
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True,
                **{**LAUNCH_OPTIONS, **extra})
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        demo.close()
