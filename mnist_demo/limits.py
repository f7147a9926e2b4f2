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
import collections
import contextlib
import datetime
import json
import math
import os
import threading
import time
from pathlib import Path

from .collection import CAP, Collection
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
# A class model from the teacher's page (classes/page_routes.py): both models' weights in base64
# (under 40 kB each) and their notes, as JSON.
CLASS_MODEL_BODY_LIMIT = 1_000_000
ROUTE_LIMITS = {"/upload": UPLOAD_LIMIT, "/component_server": COMPONENT_SERVER_LIMIT, "/queue/join": QUEUE_JOIN_LIMIT,
                "/class-page/model": CLASS_MODEL_BODY_LIMIT}
TRIM_AFTER = 4 * MIB  # a request body at least this large: give memory back once it is answered
# Bodies over DEFAULT_LIMIT (a picture as a data URL, an upload, a restore) handled at once; the rest
# wait, unread (the body stays in the network's buffers, not in memory). A 13 MB data URL costs about
# 60 MB while it is parsed and decoded (its text, the JSON string, the decoded bytes): four at once
# stay within the 300 MB a request may cost (tests/test_attacks.py). One waiting longer than
# LARGE_WAIT seconds is refused with a sentence.
LARGE_AT_ONCE = 4
LARGE_WAIT = 30.0
# What Gradio's upload folder may hold, all visitors together: an upload that would take it past
# this is refused with a sentence. Gradio removes a visitor's files once they are an hour old
# (ui.py: delete_cache, every CACHE_SECONDS, those older than CACHE_SECONDS).
UPLOAD_CACHE_BYTES = 256 * MIB
CACHE_SECONDS = 3600
RESCAN_SECONDS = 5.0  # the folder's size is measured again at most this often; uploads in between are added
# Gradio removes only what its own process made: a file older than its cache's age and period is
# a stopped app's (a restart, yesterday's run), and is not counted against today's visitors.
STALE_SECONDS = 2 * CACHE_SECONDS
# An upload cut off while it is read (over its limit here, or a phone that lost the network) leaves
# Gradio's temporary file behind for good: "tmp…" at the folder's top, which a finished upload is
# moved out of at once. One unwritten this long, and older than every upload this app is reading,
# is removed: a client cannot fill the folder for everyone with uploads it breaks off (11 MB each).
ORPHAN_SECONDS = 300.0


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


class UploadBudget:
    """What the upload folder holds, kept under ``cap`` bytes: an upload reserves its declared size
    (or its route's limit) before it is read, and is refused when the folder's size, what was
    uploaded since it was last measured and what is being uploaded now would pass the cap.
    ``clock`` paces the measures; ``wall`` (the files' own clock) dates them."""

    def __init__(self, cap: int = UPLOAD_CACHE_BYTES, folder: str | Path | None = None, clock=time.monotonic,
                 wall=time.time):
        self.cap, self._folder, self.clock, self.wall = cap, folder, clock, wall
        self._lock = threading.Lock()
        self._measured, self._measured_at, self._since, self._reserved = 0, -math.inf, 0, 0
        # When each upload being read began: the files it writes are none older. Gradio writes a
        # request's files one after another and moves them all once it has read the last, so a
        # file of an upload in progress may sit unwritten for minutes (a slow phone's IDX pair).
        self._running: collections.Counter[float] = collections.Counter()

    @property
    def folder(self) -> Path:
        if self._folder is None:
            from gradio.utils import get_upload_folder

            self._folder = get_upload_folder()
        return Path(self._folder)

    def _measure(self) -> int:
        """The bytes the running apps' files take (STALE_SECONDS). The same walk of the folder
        removes the uploads broken off: a "tmp…" at the top, unwritten for ORPHAN_SECONDS, and older
        than every upload this app is reading (another app sharing the folder has the ORPHAN_SECONDS
        alone)."""
        total, now, top = 0, self.wall(), os.path.normpath(self.folder)
        before = min(self._running, default=math.inf) - 1.0  # a file older is none of theirs
        for root, _dirs, files in os.walk(top):
            for name in files:
                path = os.path.join(root, name)
                with contextlib.suppress(OSError):  # a file Gradio moves or removes meanwhile
                    stat = os.lstat(path)
                    if root == top and name.startswith("tmp") and now - stat.st_mtime > ORPHAN_SECONDS \
                            and stat.st_mtime < before:
                        os.unlink(path)
                    # ctime: when it came here (Gradio's cache copies keep their source's mtime)
                    elif now - max(stat.st_mtime, stat.st_ctime) <= STALE_SECONDS:
                        total += stat.st_size
        return total

    def reserve(self, n: int) -> float | None:
        """Room for an upload of ``n`` bytes: its ticket for ``release``, or None (refused)."""
        with self._lock:
            if self.clock() - self._measured_at > RESCAN_SECONDS:
                self._measured, self._measured_at, self._since = self._measure(), self.clock(), 0
            if self._measured + self._since + self._reserved + n > self.cap:
                return None
            self._reserved += n
            ticket = self.wall()
            self._running[ticket] += 1
            return ticket

    def release(self, ticket: float, reserved: int, received: int) -> None:
        """The upload is over: what it reserved is free, what it wrote counts until the next measure."""
        with self._lock:
            self._reserved -= reserved
            self._since += received
            self._running[ticket] -= 1
            if self._running[ticket] <= 0:
                del self._running[ticket]


UPLOADS_FULL = ("The server holds as many uploaded files as it may right now: try again in a few minutes, or "
                "send a smaller file.")
BUSY = "The server is reading many large requests right now: try again in a moment."


class BodyLimit:
    """Pure ASGI middleware: refuses request bodies over the route's limit with HTTP 413 and a
    sentence, before the app reads them; handles at most ``large_at_once`` large bodies at a time;
    keeps the upload folder under its cap; gives memory back after large requests."""

    def __init__(self, app, limits: dict[str, int] | None = None, default: int = DEFAULT_LIMIT,
                 trim_after: int | None = TRIM_AFTER, large_at_once: int = LARGE_AT_ONCE,
                 uploads: UploadBudget | None = None):
        self.app = app
        self.limits = ROUTE_LIMITS if limits is None else limits
        self.default = default
        self.trim_after = trim_after
        self.large_at_once = large_at_once
        self._large: asyncio.Semaphore | None = None  # made in the server's event loop
        self.uploads = uploads or UploadBudget()

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
        large = declared is None and _has_body(scope) or (declared or 0) > self.default
        if large:
            if self._large is None:
                self._large = asyncio.Semaphore(self.large_at_once)
            try:
                await asyncio.wait_for(self._large.acquire(), LARGE_WAIT)
            except TimeoutError:
                return await _answer(send, 503, BUSY)
        try:
            if not (_route_is(scope, "/upload") and _has_body(scope)):
                return await self._call(scope, receive, send, limit)
            reserved = limit if declared is None else declared
            ticket = await asyncio.to_thread(self.uploads.reserve, reserved)
            if ticket is None:
                return await _answer(send, 503, UPLOADS_FULL)
            received = [0]
            try:
                return await self._call(scope, receive, send, limit, received)
            finally:
                self.uploads.release(ticket, reserved, received[0])
        finally:
            if large:
                self._large.release()

    async def _call(self, scope, receive, send, limit: int, counted: list[int] | None = None):
        received = 0
        started = False

        async def counted_receive():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if counted is not None:
                    counted[0] = received
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


def _has_body(scope) -> bool:
    return scope.get("method", "GET") not in ("GET", "HEAD", "OPTIONS", "DELETE")


def _route_is(scope, suffix: str) -> bool:
    return scope.get("path", "").rstrip("/").endswith(suffix)


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


def app_kwargs(limits: dict[str, int] | None = None, default: int = DEFAULT_LIMIT,
               uploads: UploadBudget | None = None, large_at_once: int = LARGE_AT_ONCE) -> dict:
    """For ``demo.launch(app_kwargs=...)``: Gradio's FastAPI app with ``BodyLimit`` installed."""
    from starlette.middleware import Middleware

    return {"middleware": [Middleware(BodyLimit, limits=limits, default=default, uploads=uploads,
                                      large_at_once=large_at_once)]}



# ---------------------------------------------------------------------------- routes closed

NO_DEEP_LINKS = "This app offers no deep links: its pages keep their own state."


async def _no_deep_links(request):
    from starlette.responses import PlainTextResponse

    return PlainTextResponse(NO_DEEP_LINKS, status_code=404)


def closed_routes() -> list:
    """Gradio routes this app does not use that cost the server for any caller, answered 404 here
    (for ``app_kwargs``'s ``routes``: they come before Gradio's own). ``/gradio_api/deep_link``
    writes a session's whole page state, 412 kB here, as a new file in the upload folder for each
    state it has not seen: never deleted, and outside the uploads' cap (UploadBudget counts what
    /upload brings), so sessions in distinct states would fill the disk."""
    from starlette.routing import Route

    return [Route("/gradio_api/deep_link", _no_deep_links, methods=["GET", "HEAD", "POST"])]


# ---------------------------------------------------------------------------- files by address

FETCH_REFUSED = ("Send the file itself (gradio_client: handle_file on a local file); this app does not fetch "
                 "files from addresses.")


NOT_A_FILE = ("Send the file itself, uploaded (gradio_client: handle_file on a local file): what came in "
              "its place is not a file.")


def refuse_addresses(component) -> None:
    """A file input (``gr.File``) that takes only files the client uploaded: Gradio would otherwise
    download a URL sent in the file's place, to its cache, whatever its size, and a refusal there
    would reach the client as a bare "Error". Here it is a sentence, and nothing is fetched. Anything
    else sent in the file's place (a text, a number) gets a sentence too: Gradio's own check of the
    payload's shape would fail with a bare "Error" as well."""
    import gradio as gr
    from gradio_client.utils import is_http_url_like
    from pydantic import ValidationError

    move = component.async_move_resource_to_block_cache

    async def uploaded_only(url_or_file_path):
        if isinstance(url_or_file_path, str) and is_http_url_like(url_or_file_path):
            raise gr.Error(FETCH_REFUSED, title="Not fetched")
        return await move(url_or_file_path)

    component.async_move_resource_to_block_cache = uploaded_only
    model = component.data_model  # FileData, or ListFiles for several files: read by Gradio's preprocess

    def model_validate(cls, obj, *args, **kwargs):
        if isinstance(obj, str) and is_http_url_like(obj):
            raise gr.Error(FETCH_REFUSED, title="Not fetched")
        try:
            return model.model_validate.__func__(cls, obj, *args, **kwargs)
        except ValidationError:
            raise gr.Error(NOT_A_FILE, title="Not a file") from None

    # The same model under the same name (the API's schema is unchanged), checking the shape first.
    component.data_model = type(model.__name__, (model,), {"model_validate": classmethod(model_validate),
                                                           "__module__": model.__module__})


# ---------------------------------------------------------------------------- what sessions keep


class _Emptied(dict):
    """An emptied entry of a session's config copy, one for all (no memory per entry): empty, so
    Gradio passes it by, and nothing written into it stays. Gradio looks an entry's "props" up, then
    writes props["value"] (SessionState._update_value_in_config): an entry emptied between the two
    hands the write a throwaway dict instead of failing the event with a KeyError."""

    def __missing__(self, key):
        return {}

    def __setitem__(self, key, value):
        pass


EMPTIED = _Emptied()

LARGE_OUTPUT = 64 * 1024  # characters: an HTML component at least this large is not kept with an idle session
KEEP_LARGE = 16  # at most this many sessions, the last used, keep all they hold while in use...
IDLE = 5.0  # ...which is until they have not been used for this many seconds (the sweep's own period)


def _size(value, enough: int) -> int:
    """Roughly how many characters ``value`` is as JSON, counted only up to ``enough``."""
    if isinstance(value, str | bytes):
        return len(value)
    total = 0
    items = value.values() if isinstance(value, dict) else value if isinstance(value, list | tuple) else ()
    for item in items:
        total += _size(item, enough - total) + 2
        if total >= enough:
            break
    return total


def idle_sessions(holder, keep: int = KEEP_LARGE, idle: float | None = None,
                  now: datetime.datetime | None = None) -> list:
    """The sessions of Gradio's state holder to shrink: all but the ``keep`` used last, and those
    too once nobody has used them for ``idle`` seconds. A visitor's events less than that apart pay
    no unpacking (after a pause, 20 ms for a full collection); a crowd that has stopped (a flood, a
    class gone home) holds only what it must."""
    now = now or datetime.datetime.now()
    used = getattr(holder, "time_last_used", {})
    sessions = list(getattr(holder, "session_data", {}).items())  # oldest first (least recently used)
    cut = max(0, len(sessions) - keep)
    recent = datetime.timedelta(seconds=IDLE if idle is None else idle)
    return [state for k, (key, state) in enumerate(sessions)
            if k < cut or now - used.get(key, datetime.datetime.min) >= recent]


def forget_large_outputs(sessions: list, originals: dict, larger_than: int = LARGE_OUTPUT) -> int:
    """Gradio keeps, with every session, a copy of every component's config (``SessionState.
    config_values``: 220 kB here before any event, for deep links, which this app closes:
    closed_routes), with every output's last value in it, and, for an update, the component it
    rebuilt for the session. So one import's gallery and its digits (6.6 MB) stay as long as the
    session does, and a client that makes sessions can hold that much in each. In each of the idle
    ``sessions`` (``idle_sessions``), each entry of that copy is emptied, its key kept: Gradio
    writes to the copy from its event loop while this runs in the sweep's thread, so an entry it
    has just found must still be there, and one it is writing into must take the write
    (``EMPTIED``); a new value replaces the entry. An HTML component rebuilt for the session goes
    back to the app's own (``originals``, the Blocks' blocks: its props only go to the page, they
    are never read back) when it holds more than ``larger_than`` characters. The page has shown
    them all, and redraws when asked. Returns how many."""
    import gradio as gr

    dropped = 0
    for state in sessions:
        copies = getattr(state, "config_values", None)
        for key, config in list(copies.items()) if isinstance(copies, dict) else ():
            if config:  # EMPTIED is empty
                copies[key] = EMPTIED
                dropped += 1
        blocks = getattr(getattr(state, "blocks_config", None), "blocks", {})
        for key, block in list(blocks.items()):
            original = originals.get(key)
            if isinstance(block, gr.HTML) and original is not None and block is not original and \
                    _size([block.value, block.props], larger_than) >= larger_than:
                blocks[key] = original
                dropped += 1
    return dropped


def pack_idle_digits(sessions: list) -> int:
    """In each of the idle ``sessions`` (``idle_sessions``), the visitor's own digits (up to 2,000, 1.6 MB as
    bytes) are held compressed until its next event reads them (``Collection.pack``): 300
    sessions that each imported a full collection would otherwise hold half a gigabyte between
    them. Nothing is dropped, so an idle visitor loses nothing. Returns the bytes saved."""
    saved = 0
    for state in sessions:
        for value in list(getattr(state, "state_data", {}).values()):
            if isinstance(digits := getattr(value, "digits", None), Collection):
                saved += digits.pack()
    return saved


def keep_sessions_small(demo, every: float = 5.0) -> threading.Thread:
    """Every ``every`` seconds while ``demo`` exists, ``forget_large_outputs`` and
    ``pack_idle_digits`` on its sessions (Gradio's state holder, there once the app is launched)."""
    import weakref

    ref = weakref.ref(demo)

    def sweep():
        while (blocks := ref()) is not None:
            holder = getattr(blocks, "state_holder", None)
            originals = blocks.blocks
            del blocks
            idle = []
            if holder is not None:
                with contextlib.suppress(Exception):  # a session changing under the sweep: next time
                    idle = idle_sessions(holder)
                    if forget_large_outputs(idle, originals) + pack_idle_digits(idle):
                        give_back_memory()
            holder = originals = idle = None  # no session held while the sweep sleeps
            time.sleep(every)

    thread = threading.Thread(target=sweep, name="keep-sessions-small", daemon=True)
    thread.start()
    return thread
