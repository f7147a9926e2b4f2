"""What one request may cost the server: its body's size, checked before Gradio parses anything,
and the memory a large request leaves behind, given back to the system afterwards (memory.py).

``BodyLimit`` is a pure ASGI middleware (no Starlette ``BaseHTTPMiddleware``, which buffers):
a declared ``Content-Length`` over the route's limit is refused at once with HTTP 413 and a
sentence, and a body sent without one (chunked) is counted as it streams and refused the moment
it passes the limit. Install it through ``demo.launch(app_kwargs=app_kwargs())``: Gradio passes
``app_kwargs`` to its FastAPI app, whose ``middleware`` list runs before any route.
"""

from __future__ import annotations

import asyncio
import json
import math

from .collection import CAP
from .memory import give_back_memory
from .pictures import MAX_FILE_BYTES as PICTURE_BYTES
from .weights import MAX_BYTES as WEIGHTS_BYTES

MIB = 1024 * 1024


def _base64(n: int) -> int:
    return math.ceil(n / 3) * 4


# What the app's own pages legitimately send, by route (the end of the path, after any root path):
#   upload            one picture or a collection's files as multipart (10 MB, plus the form's framing)
#   component_server  the pad's read_digit: a picture as a data URL, or the ink with both models'
#                     weights as base64 safetensors (the two together at most)
#   queue/join        every event; the largest is the page's restore: a whole collection as it keeps it
#                     in the browser (CAP digits of ~1.1 kB as JSON) and both trained weights
#   anything else     the rest: heartbeats, cancels, file references
UPLOAD_LIMIT = PICTURE_BYTES + MIB
COMPONENT_SERVER_LIMIT = _base64(PICTURE_BYTES) + 2 * _base64(WEIGHTS_BYTES) + 256 * 1024
DEFAULT_LIMIT = MIB
QUEUE_JOIN_LIMIT = CAP * 1200 + 2 * _base64(WEIGHTS_BYTES) + 256 * 1024
ROUTE_LIMITS = {"/upload": UPLOAD_LIMIT, "/component_server": COMPONENT_SERVER_LIMIT, "/queue/join": QUEUE_JOIN_LIMIT}
TRIM_AFTER = 4 * MIB  # a request body at least this large: give memory back once it is answered


# ---------------------------------------------------------------------------- request bodies


class BodyTooLarge(BaseException):
    """Raised from ``receive`` when a streamed body passes its limit. A BaseException, like
    cancellation: the routes' ``except Exception`` (FastAPI's body parsing, Gradio's
    component_server) would turn it into a 400 "invalid body"; it reaches BodyLimit instead."""


def _too_large_sentence(limit: int) -> str:
    return (f"The request is too large: this app accepts at most {limit / MIB:.1f} MB here. "
            "Send a smaller picture or file.")


def _limit_for(path: str, limits: dict[str, int], default: int) -> int:
    path = path.rstrip("/")
    for suffix, limit in limits.items():
        if path.endswith(suffix):
            return limit
    return default


class BodyLimit:
    """Pure ASGI middleware: refuses request bodies over the route's limit with HTTP 413 and a
    sentence, before the app reads them; gives memory back after large requests."""

    def __init__(self, app, limits: dict[str, int] | None = None, default: int = DEFAULT_LIMIT,
                 trim_after: int | None = TRIM_AFTER):
        self.app = app
        self.limits = ROUTE_LIMITS if limits is None else limits
        self.default = default
        self.trim_after = trim_after

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit = _limit_for(scope.get("path", ""), self.limits, self.default)
        declared = None
        for key, value in scope.get("headers", []):
            if key == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    return await _answer(send, 400, "The request's Content-Length is not a number.")
        if declared is not None and declared > limit:
            return await _answer(send, 413, _too_large_sentence(limit))

        received = 0
        started = False

        async def counted_receive():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge
            return message

        async def watched_send(message):
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted_receive, watched_send)
        except BaseException as e:  # BodyTooLarge itself, or wrapped in a group by a task group
            if isinstance(e, asyncio.CancelledError) or not _caused_by_too_large(e):
                raise
            if not started:
                await _answer(send, 413, _too_large_sentence(limit))
        finally:
            if self.trim_after is not None and received >= self.trim_after:
                await asyncio.to_thread(give_back_memory)


def _caused_by_too_large(e: BaseException | None) -> bool:
    seen = 0
    while e is not None and seen < 20:
        if isinstance(e, BodyTooLarge):
            return True
        if isinstance(e, BaseExceptionGroup):
            return any(_caused_by_too_large(x) for x in e.exceptions)
        e, seen = e.__cause__ or e.__context__, seen + 1
    return False


async def _answer(send, status: int, sentence: str):
    body = json.dumps({"detail": sentence, "error": sentence}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


def app_kwargs(limits: dict[str, int] | None = None, default: int = DEFAULT_LIMIT) -> dict:
    """For ``demo.launch(app_kwargs=...)``: Gradio's FastAPI app with ``BodyLimit`` installed."""
    from starlette.middleware import Middleware

    return {"middleware": [Middleware(BodyLimit, limits=limits, default=default)]}

