"""The class's model trained in the teacher's page ("This device"): two plain routes beside
Gradio's, for page/class_trainer.js.

- ``GET /class-page/drawings``: the class's drawings, split as the server's training splits them
  (``Digits.split``: the part to train on and the held-out quarter), fetched once per training.
- ``POST /class-page/model``: the weights the page trained, with their notes (the before/after
  figures), given to the class through ``Classroom.publish_model``, exactly as "Give it to the
  class" does after a server training: the wall and the students' pads cannot tell them apart.

The teacher's standing is the ``X-Teacher-Token`` header: the token of the teacher link, looked up
as every teacher control looks it up (``Classroom.code_for_teacher``), never a server session. Each
route answers a wrong token or an ended class with 403, more calls than a teacher's page makes
with 429 (per class, so another class is never slowed; and per client, all its classes together),
and every refusal with a sentence in ``{"error": ...}``, changing nothing. A model's body is capped
by ``limits.BodyLimit`` (413), and read only once the token and both minutes allow it; its
weights are checked as any weights file is (``weights_from_bytes``) and written
only to the class's database, never to ``weights/``.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import collections
import json
import math
import sqlite3
import threading
import time

from ..collection import HOLD_OUT_EVERY
from ..limits import CLASS_MODEL_BODY_LIMIT
from ..models import MODEL_NAMES
from ..page_trainer import trainer_setup
from ..presets import PRESETS
from ..settings import Settings
from ..weights import WeightsError, weights_from_bytes, weights_to_bytes
from .addresses import client_of
from .store import ENDED, MINUTE, STUDENT_SECONDS, ClassError, Classroom, KeepBuckets, class_digits
from .views import class_model_summary, too_few_to_train

ROUTE = "class-page"
TOKEN_HEADER = "X-Teacher-Token"
# A teacher's page fetches the drawings once per training and uploads once per "Give it to the
# class"; these leave room for a few retries and nothing like a flood.
DRAWINGS_PER_MINUTE = 6
MODELS_PER_MINUTE = 3
# Both routes together, per client (an address, as every per-client limit reads it: client_of with
# the settings' proxy hops): a school's teachers behind one router fetch once per training and
# upload once per model, far fewer; a client that started many classes cannot multiply the per-class
# limits by them (a fetch of a full class is 5 MB of JSON).
CLIENT_CALLS_PER_MINUTE = 30
# A full class's drawings are 5 MB of JSON. Sent at once, uvicorn keeps all of it until the client
# reads it, however long that takes: 24 fetches that were never read held +113 MB for as long as
# their client liked. So the answer goes in pieces, each sent once the client has taken the one
# before (uvicorn waits for its buffer to drain), all within SEND_SECONDS (5 MB at 17 kB/s), and a
# client has at most DRAWINGS_AT_ONCE on their way: what one client can hold is bounded (20 MB).
PIECE = 64 * 1024
SEND_SECONDS = 300.0
DRAWINGS_AT_ONCE = 4
NO_STORE = {"Cache-Control": "no-store"}  # a class's drawings are kept by no cache, shared or not
NOT_TEACHING = "This class has ended, or its teacher link was replaced: open the current one."
# The notes a page sends with each model: what the wall and the teacher's summary show. Accuracies
# are fractions; counts are whole numbers. The four the wall needs must be there.
ACCURACY_NOTES = ("held_before", "held_after", "valid_before", "valid_after", "valid_acc", "held_best")
COUNT_NOTES = ("class_drawings", "class_held_out", "valid_count", "valid_every")
REQUIRED_NOTES = ("held_before", "held_after", "valid_before", "valid_after")
MAX_COUNT = 10 ** 9  # far above any class's drawings or MNIST's digits
# Finite weights can still overflow: 1e38 everywhere passes every weights file's checks, yet makes
# every answer NaN, on the wall's figures and every student's pad at once. The shipped weights stay
# under 6 and a page's fine-tune moves them by far less than one; within ±1,000 both models' outputs
# stay finite for any drawing (1,000 everywhere and every pixel 1: under 10^15 from the CNN).
MAX_WEIGHT = 1000.0
# The MNIST digits a teacher's page mixes into the class's fine-tune at most: the fine-tune preset's
# 10,000, which both models take in seconds on a laptop's cores (one kept free when it serves the class).
CLASS_PAGE_MNIST_LIMIT = PRESETS["fine-tune"].limit


def class_trainer_setup(settings: Settings) -> dict:
    """What the teacher's page trainer is told (page/class_trainer.js): the Train tab's page
    trainer's setup, and these routes, the MNIST cap, the fine-tune's MNIST budget."""
    return trainer_setup(settings) | {
        "class_drawings": f"{ROUTE}/drawings", "class_model": f"{ROUTE}/model", "token_header": TOKEN_HEADER,
        "class_mnist_limit": CLASS_PAGE_MNIST_LIMIT,
        "student_seconds": round(STUDENT_SECONDS),
    }


class PerMinute:
    """At most ``limit`` calls a minute for each key: the classroom's own token bucket
    (``store.KeepBuckets``: full at ``limit``, refilled over a minute, bounded in memory), read with
    the routes' clock and counted under a lock (the routes run in threads)."""

    def __init__(self, limit: int, clock=time.monotonic):
        self.clock, self.buckets = clock, KeepBuckets(limit / MINUTE, limit)
        self._lock = threading.Lock()

    def wait(self, key: str) -> float:
        """0 when this call may go ahead (and it is counted), else the seconds until one may."""
        now = self.clock()
        with self._lock:
            wait = self.buckets.wait(key, now)
            if not wait:
                self.buckets.spend(key, now)
            return wait


class ClassPageRoutes:
    """What the two routes need: the classroom and their rate limits (one per app)."""

    def __init__(self, classroom: Classroom, clock=time.monotonic):
        self.classroom = classroom
        self.drawings_limit = PerMinute(DRAWINGS_PER_MINUTE, clock)
        self.models_limit = PerMinute(MODELS_PER_MINUTE, clock)
        self.client_limit = PerMinute(CLIENT_CALLS_PER_MINUTE, clock)
        self.sending: collections.Counter[str] = collections.Counter()  # drawings on their way, by client


class Refusal(Exception):
    """A route's refusal: its HTTP status and the sentence the teacher's page shows."""

    def __init__(self, status: int, sentence: str, headers: dict | None = None):
        super().__init__(sentence)
        self.status, self.sentence, self.headers = status, sentence, headers or {}


def _answer(body: dict, status: int = 200, headers: dict | None = None):
    from starlette.responses import JSONResponse

    return JSONResponse(body, status_code=status, headers=NO_STORE | (headers or {}))


def _refused(refusal: Refusal):
    return _answer({"error": refusal.sentence}, refusal.status, refusal.headers)


def _routes_of(request) -> ClassPageRoutes | None:
    return getattr(request.app.get_blocks(), "class_page", None)


def _too_many(wait: float, whose: str) -> Refusal:
    seconds = math.ceil(wait)
    return Refusal(429, f"Too many requests {whose}: try again in {seconds} seconds.", {"Retry-After": str(seconds)})


def teacher_class(routes: ClassPageRoutes, token, limit: PerMinute, client: str = "local") -> str:
    """The class the token teaches, with a call counted against its client's minute and its own;
    or a Refusal."""
    code = routes.classroom.code_for_teacher(token) if isinstance(token, str) and 0 < len(token) <= 200 else None
    if code is None:
        raise Refusal(403, NOT_TEACHING)
    wait = routes.client_limit.wait(client)
    if wait:
        raise _too_many(wait, "from your network")
    wait = limit.wait(code)
    if wait:
        raise _too_many(wait, "for this class")
    return code


def _part(digits) -> dict:
    return {"count": len(digits), "labels": [int(v) for v in digits.labels],
            "pixels": base64.b64encode(digits.pixels.tobytes()).decode()}


def class_drawings(routes: ClassPageRoutes, token, client: str = "local") -> dict:
    """The class's drawings for its teacher's page: to train on and held out, as the server splits them."""
    code = teacher_class(routes, token, routes.drawings_limit, client)
    own, held = class_digits(routes.classroom, code).split()
    if not len(own) + len(held) and routes.classroom.code_for_teacher(token) is None:
        # Ended after the token was looked up (an ended class reads as empty): say so, as an upload
        # does, rather than "too few drawings".
        raise Refusal(410, ENDED)
    problem = too_few_to_train(own, held)
    if problem:
        raise Refusal(409, problem)
    return {"train": _part(own), "held": _part(held), "drawings": len(own) + len(held),
            "hold_out_every": HOLD_OUT_EVERY}


def finite(value) -> float | None:
    """A note's number as a float, or None: not a number (a bool is not one), NaN, ±∞, or an integer
    past a float's range (JSON's integers have no bound: 10**400 would make math.isfinite raise)."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def checked_notes(notes) -> dict[str, str]:
    """One model's notes from a page, as text the way the server's training writes them; or a
    Refusal naming the first figure that is not one."""
    if not isinstance(notes, dict):
        raise Refusal(400, "Each model's notes must be a table of figures.")
    missing = [k for k in REQUIRED_NOTES if k not in notes]
    if missing:
        raise Refusal(400, f"The notes lack {', '.join(missing)}.")
    out = {}
    for key, value in notes.items():
        number = finite(value)
        if key in ACCURACY_NOTES:
            if number is None or not 0 <= number <= 1:
                raise Refusal(400, f"The note {key} must be an accuracy: a number from 0 to 1.")
            out[key] = f"{number:.6f}"
        elif key in COUNT_NOTES:
            if number is None or not number.is_integer() or not 0 <= number <= MAX_COUNT:
                raise Refusal(400, f"The note {key} must be a whole count, 0 or more.")
            out[key] = str(int(number))
        else:
            raise Refusal(400, f"The notes hold {str(key)[:40]!r}, which is not one of a class model's figures.")
    return out


def checked_upload(body: bytes) -> tuple[dict[str, bytes], dict[str, dict[str, str]]]:
    """{name: safetensors bytes} and {name: notes} from a page's upload, each model rebuilt from
    its bytes and checked as any weights file is, then written again with the checked notes (what
    the server's own training would have written); or a Refusal."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        raise Refusal(400, "The upload is not JSON.") from None
    models = data.get("models") if isinstance(data, dict) else None
    notes = data.get("notes") if isinstance(data, dict) else None
    if not isinstance(models, dict) or not models or not set(models) <= set(MODEL_NAMES):
        raise Refusal(400, f"Send one or both of the {' and '.join(MODEL_NAMES)} models.")
    if not isinstance(notes, dict) or set(notes) != set(models):
        raise Refusal(400, "Send each model's notes with it, and no others.")
    blobs, figures = {}, {}
    for name, text in models.items():
        try:
            blob = base64.b64decode(text, validate=True) if isinstance(text, str) else None
        except (binascii.Error, ValueError):
            blob = None
        if blob is None:
            raise Refusal(400, f"The {name} model's weights must be a safetensors file in base64.")
        try:
            model, meta = weights_from_bytes(blob, source=f"The {name} model's weights")
        except WeightsError as e:
            raise Refusal(400, f"{e}.") from None
        if meta.get("model") != name:
            raise Refusal(400, f"The weights sent as the {name} model are the {meta.get('model')} model's.")
        largest = max(float(t.abs().max()) for t in model.state_dict().values())
        if largest > MAX_WEIGHT:
            raise Refusal(400, f"The {name} model's weights reach {largest:.3g}; a class model's stay within "
                               f"±{MAX_WEIGHT:,.0f}, or its answers would overflow.")
        figures[name] = checked_notes(notes[name])
        blobs[name] = weights_to_bytes(model, figures[name])
    return blobs, figures


def publish_upload(routes: ClassPageRoutes, code: str, body: bytes) -> dict:
    """The checked upload given to the class ``code`` (its teacher and minute checked already)."""
    blobs, figures = checked_upload(body)
    try:
        version = routes.classroom.publish_model(code, blobs, figures)
    except ClassError as e:  # the class ended while the upload was on its way
        raise Refusal(410 if e.kind == "ended" else 400, str(e)) from None
    return {"model_version": version, "summary": class_model_summary(figures)}


BUSY = ({"error": "The class's store is busy for a moment: try again."}, 503, {"Retry-After": "2"})


async def _run(fn, *args):
    try:
        return _answer(await asyncio.to_thread(fn, *args))
    except Refusal as refusal:
        return _refused(refusal)
    except sqlite3.OperationalError:  # the host's command line holds the database: soon
        return _answer(*BUSY)


def _client(routes: ClassPageRoutes, request) -> str:
    return client_of(request, routes.classroom.limits.proxy_hops)


class PacedAnswer:
    """A response sent in PIECE-sized parts, each once the client took the last, all within
    SEND_SECONDS; ``release`` is called once it is over, sent or not. A client too slow is cut off
    (the connection closes), and the answer's memory goes with it."""

    def __init__(self, response, release):
        self.response, self.release = response, release

    async def __call__(self, scope, receive, send):
        body = self.response.body
        try:
            async with asyncio.timeout(SEND_SECONDS):
                await send({"type": "http.response.start", "status": self.response.status_code,
                            "headers": self.response.raw_headers})
                for start in range(0, len(body), PIECE):
                    await send({"type": "http.response.body", "body": body[start:start + PIECE], "more_body": True})
                await send({"type": "http.response.body", "body": b""})
        except TimeoutError:
            pass  # returning unfinished: the server closes the connection
        finally:
            self.release()


async def drawings_route(request):
    routes = _routes_of(request)
    if routes is None:
        return _answer({"error": "This app has no classes."}, 404)
    client = _client(routes, request)
    if routes.sending[client] >= DRAWINGS_AT_ONCE:
        return _refused(Refusal(429, f"Your network is receiving {DRAWINGS_AT_ONCE} classes' drawings already: "
                                     "try again once they have arrived.", {"Retry-After": "10"}))
    routes.sending[client] += 1  # in the event loop, as every read and release of it

    def release():
        routes.sending[client] -= 1
        if routes.sending[client] <= 0:
            del routes.sending[client]

    try:
        answer = await _run(class_drawings, routes, request.headers.get(TOKEN_HEADER), client)
    except BaseException:
        release()
        raise
    return PacedAnswer(answer, release)


async def model_route(request):
    routes = _routes_of(request)
    if routes is None:
        return _answer({"error": "This app has no classes."}, 404)
    # The standing and the minute first, before the body is read: a wrong token's body, and one past
    # the class's or the client's minute, stay unread (any number of them at once cost no memory).
    try:
        code = await asyncio.to_thread(teacher_class, routes, request.headers.get(TOKEN_HEADER),
                                       routes.models_limit, _client(routes, request))
    except Refusal as refusal:
        return _refused(refusal)
    except sqlite3.OperationalError:
        return _answer(*BUSY)
    body = await request.body()
    if len(body) > CLASS_MODEL_BODY_LIMIT:  # BodyLimit refused it before reading, where it is installed
        return _refused(Refusal(413, f"The upload is too large: at most {CLASS_MODEL_BODY_LIMIT:,} bytes."))
    return await _run(publish_upload, routes, code, body)


def routes() -> list:
    """The two routes, for Gradio's FastAPI app (``app_kwargs``'s ``routes``, as page_data's)."""
    from starlette.routing import Route

    return [Route(f"/{ROUTE}/drawings", drawings_route, methods=["GET"]),
            Route(f"/{ROUTE}/model", model_route, methods=["POST"])]
