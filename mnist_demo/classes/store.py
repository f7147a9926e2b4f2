"""A class together: a join code, the students who joined with it, the drawings they give the
class and the models the teacher publishes to it, kept in one SQLite file (``classes.sqlite3`` in
the data folder) so that nothing acknowledged is lost to a restart or a ``kill -9``.
docs/classes.md describes the design, the schema and the limits.

Everything goes through one ``Classroom``. Each write is one transaction whose checks (is the class
live, is the student in it, is there room) and change cannot be split, neither by another of
Gradio's threads nor by the host's CLI (``host.py``) writing from another process.

The class's secrets are its teacher token (the way back to the controls) and its wall token (the
projector's page). The join code is not a secret: it is read aloud, so guessing it is rate-limited
instead, and it grants only joining. Students have no names: each gets a random id when joining.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import numbers
import secrets
import sqlite3
import struct
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..collection import MAX_ID, PIXELS, Digits

# No look-alikes on a projector or a phone (0/O, 1/I/L, 2/Z, 5/S, 8/B, 6/G): 24 symbols, so a code
# of 6 is one of 191 million, and guessing a live class's takes millions of tries.
JOIN_ALPHABET = "ACDEFHJKMNPQRTUVWXY34679"
CODE_LENGTH = 6
DB_NAME = "classes.sqlite3"
SCHEMA_VERSION = 3  # PRAGMA user_version: 1 made by SCHEMA, each later one by its MIGRATIONS entry
MODEL_NAMES = ("linear", "cnn")  # as models.MODEL_NAMES (not imported: that module brings torch to the CLI)
MAX_MODEL_BYTES = 1_000_000  # as weights.MAX_BYTES, for the same reason
MAX_TOKEN_CHARS = 100  # a token is 32 characters; anything much longer is not one, and is not hashed
DAY = 86400.0
MINUTE = 60.0
MANY = 10_000  # rate-limit entries kept in memory before the stale ones are swept out
# A student's page asks whether the class has a new model (the bar: within 10 s). Each ask is an
# event of Gradio's, ~20 ms of the server's CPU: a class of 60 at 8 s costs a sixth of a core.
STUDENT_SECONDS = 8.0

ENDED = "This class has ended."
LOCKED = "This class is not taking new students right now."
TOO_MANY_WRONG = "Too many wrong codes from your network; wait a minute."
MALFORMED = f"A class code is {CODE_LENGTH} letters and digits; check it with your teacher."
NOT_IN_CLASS = "You are not in this class any more: join it again to send drawings to it."
BAD_DIGIT = "A drawing's label and the models' answers must be whole numbers from 0 to 9."
BAD_ID = "A drawing's id must be a whole number from 0 to 2**53."
BAD_PIXELS = f"A drawing is {PIXELS} bytes (28x28)."


class ClassError(ValueError):
    """A refusal, as one sentence for the visitor. Nothing was changed. ``kind`` says what a page
    does about it: "ended", "removed", "locked" or "full" (a join refused) and "capacity" (a class
    that holds all the drawings it may) are final; "slow" is worth a retry; "wrong" is a wrong code;
    "bad" is input that can never be accepted."""

    def __init__(self, message: str, kind: str = "bad"):
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class ClassLimits:
    max_drawings: int = 5000  # per class: 60 students keeping every 2 s for 2 minutes is 3,600 (4.1 MB)
    max_students: int = 100  # per class
    keeps_per_second: float = 4.0  # per student, refilled steadily...
    keep_burst: int = 8  # ...with this many at once: a quick run of taps is fine, a script is not
    # Wrong codes per client (an address: a whole school behind its router), then even a right one
    # waits. A room of 100 phones typing a code read aloud mistypes some: 60 a minute is a wrong code
    # for most of them at once, and 1,000 a day is ten such lessons. Guessing against 24**6 =
    # 191,102,976 codes: with the server full (max_classes, 500 live), a try hits a class with
    # p = 500 / 191,102,976 = 2.6e-6; 1,000 tries a day hit one in 1 / (1000 * 2.6e-6) = 382 days on
    # average (in 1,000 days at a typical 20 live classes). And a hit grants only joining.
    join_failures_per_minute: int = 60
    join_failures_per_day: int = 1000
    days: float = 7.0  # a class and everything in it is deleted this long after it was created
    max_classes: int = 500  # live classes on the server at once: the disk's bound (500 full ones ~2.8 GB)
    classes_per_client_per_hour: int = 10  # started by one client (a school's teachers share an address)
    empty_hours: float = 6.0  # a class nobody ever joined or drew in is deleted this long after it started
    new_students_per_minute: int = 150  # per client: a class of 100 joining at once behind one router, reloads
    proxy_hops: int = 0  # not a cap: how far to trust X-Forwarded-For (Settings.proxy_hops, addresses.client_of)


def limits_from(settings) -> ClassLimits:
    """The host's caps (``settings.Settings``; not imported here, as settings brings torch)."""
    return ClassLimits(max_drawings=settings.class_max_drawings, max_students=settings.class_max_students,
                       days=float(settings.class_days), classes_per_client_per_hour=settings.class_starts_per_hour,
                       proxy_hops=settings.proxy_hops)


@dataclass(frozen=True)
class NewClass:
    code: str  # to join: read aloud, typed, or in the join link
    teacher_token: str  # the teacher link's secret: the class's controls
    wall_token: str  # the wall link's secret: viewing the wall, nothing else


@dataclass(frozen=True)
class Drawing:
    drawing_id: int  # made on the student's device
    student: str  # the anonymous id ``join`` gave
    label: int  # what the student said it is
    linear: int  # each model's answer when it was kept
    cnn: int
    pixels: bytes = field(repr=False)  # 784 bytes, row-major 28x28, 0..255: as ``collection.to_bytes``
    created: float
    order: int = 0  # when it was stored among the class's drawings: what ``since_id_order`` names


@dataclass(frozen=True)
class ClassSummary:
    code: str
    created: float
    expires: float
    locked: bool
    students: int
    drawings: int


def to_digits(drawings: list[Drawing]) -> Digits:
    """A class's drawings as a collection snapshot, for fine-tuning and export (ids: the devices')."""
    if not drawings:
        return Digits(np.zeros((0, PIXELS), np.uint8), np.zeros(0, np.uint8), np.zeros(0, np.int64))
    return Digits(np.frombuffer(b"".join(d.pixels for d in drawings), np.uint8).reshape(-1, PIXELS),
                  np.array([d.label for d in drawings], np.uint8),
                  np.array([d.drawing_id for d in drawings], np.int64))


def class_digits(classroom: Classroom, code: str) -> Digits:
    """The class's drawings, as a collection snapshot."""
    return to_digits(classroom.drawings(code))


# ---------------------------------------------------------------------------- codes and checks


def new_code() -> str:
    return "".join(secrets.choice(JOIN_ALPHABET) for _ in range(CODE_LENGTH))


def normalize_code(text) -> str:
    """A code as a student typed it: any case, with spaces or dashes ("kx4-7pd" -> "KX47PD").
    Look-alikes are not mapped: the alphabet has neither side of any such pair (no 0 and no O), so
    a code with one of them is simply not a code."""
    if not isinstance(text, str):
        return ""
    return "".join(ch for ch in text[:4 * CODE_LENGTH].upper() if ch.isalnum())


def well_formed(code: str) -> bool:
    return len(code) == CODE_LENGTH and all(ch in JOIN_ALPHABET for ch in code)


def digest(token) -> bytes | None:
    """What a token is looked up by: its SHA-256, so the lookup's timing says nothing about how
    much of a guessed token was right (an index compares the stored value byte by byte)."""
    if not isinstance(token, str) or not 0 < len(token) <= MAX_TOKEN_CHARS:
        return None
    return hashlib.sha256(token.encode()).digest()


def as_text(value) -> str:
    """A student id or client as given, or "" (which matches nobody) for anything not text."""
    return value if isinstance(value, str) else ""


def whole_number(value) -> int | None:
    """``value`` as an int if it is a whole number (numpy's too, from a model's argmax), else None."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        return None
    return int(value)


def checked_digit(value) -> int:
    number = whole_number(value)
    if number is None or not 0 <= number <= 9:
        raise ClassError(BAD_DIGIT)
    return number


def checked_id(value) -> int:
    """A drawing id made on the device (page/store.js): as the session's collection takes them."""
    number = whole_number(value)
    if number is None or not 0 <= number < MAX_ID:
        raise ClassError(BAD_ID)
    return number


def checked_pixels(pixels) -> bytes:
    """784 bytes, or a uint8 array of 784 (``collection.to_bytes``): never a float array that happens
    to be 784 bytes long."""
    if isinstance(pixels, np.ndarray):
        if pixels.dtype != np.uint8 or pixels.size != PIXELS:
            raise ClassError(BAD_PIXELS)
        return pixels.tobytes()
    if not isinstance(pixels, bytes | bytearray) or len(pixels) != PIXELS:
        raise ClassError(BAD_PIXELS)
    return bytes(pixels)


def looks_like_safetensors(blob: bytes) -> bool:
    """The safetensors layout without reading it: an 8-byte little-endian header size, then that
    many bytes of a JSON object. The weights come from the server's own training; this catches a
    caller passing the wrong thing, not an attacker."""
    if len(blob) < 10:
        return False
    (size,) = struct.unpack("<Q", blob[:8])
    return 2 <= size <= len(blob) - 8 and blob[8:9] == b"{"


def checked_models(models, metadata) -> dict[str, tuple[bytes, str]]:
    """{name: (safetensors bytes, metadata as JSON)} for a publish, or ClassError."""
    if not isinstance(models, dict) or not models or not set(models) <= set(MODEL_NAMES):
        raise ClassError(f"A class model is one or both of {' and '.join(MODEL_NAMES)}.")
    metadata = {} if metadata is None else metadata
    if not isinstance(metadata, dict) or not set(metadata) <= set(models):
        raise ClassError("A class model's notes must name a model that is published with them.")
    checked = {}
    for name, blob in models.items():
        if not isinstance(blob, bytes | bytearray) or len(blob) > MAX_MODEL_BYTES \
                or not looks_like_safetensors(bytes(blob)):
            raise ClassError(f"A class model must be a safetensors file under {MAX_MODEL_BYTES:,} bytes.")
        notes = metadata.get(name, {})
        if not isinstance(notes, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                                  for k, v in notes.items()):
            raise ClassError("A class model's notes must be text under text keys.")
        checked[name] = (bytes(blob), json.dumps(notes))
    return checked


# ---------------------------------------------------------------------------- rate limits (in memory)


class WrongCodes:
    """Each client's wrong codes: at most ``per_minute`` in any minute and ``per_day`` in any day,
    two token buckets (a client's budget refills steadily). In memory: a restart forgets them, which
    gives a guesser one more budget, and keeps the database free of visitors' addresses."""

    def __init__(self, per_minute: int, per_day: int = 10**9):
        self.minute = KeepBuckets(per_minute / MINUTE, per_minute)
        self.day = KeepBuckets(per_day / DAY, per_day)

    def wait(self, client: str, now: float) -> float:
        """Seconds until this client may try again; 0 when it may now."""
        return max(0.0, self.minute.wait(client, now), self.day.wait(client, now))

    def blocked(self, client: str, now: float) -> bool:
        return self.wait(client, now) > 0

    def add(self, client: str, now: float) -> None:
        self.minute.spend(client, now)
        self.day.spend(client, now)


class Starts:
    """What each client started in the last ``window`` seconds (classes, students), while it lasts:
    ``forget`` frees a slot (a class ended). In memory, bounded: only the last window's are kept."""

    def __init__(self, per_window: int, window: float):
        self.per_window, self.window = per_window, window
        self._started: dict[str, dict[str, float]] = {}  # client: {what: when}

    def _recent(self, client: str, now: float) -> dict[str, float]:
        started = {k: t for k, t in self._started.get(client, {}).items() if now - self.window < t <= now}
        if started:
            self._started[client] = started
        else:
            self._started.pop(client, None)
        return started

    def wait(self, client: str, now: float) -> float:
        """Seconds until this client may start another; 0 when it may now."""
        started = self._recent(client, now)
        if len(started) < self.per_window:
            return 0.0
        return sorted(started.values())[-self.per_window] + self.window - now

    def add(self, client: str, what: str, now: float) -> None:
        if len(self._started) >= MANY:
            for c in list(self._started):
                self._recent(c, now)
        self._started.setdefault(client, {})[what] = now

    def forget(self, what: str) -> None:
        for started in self._started.values():
            started.pop(what, None)


def in_minutes(seconds: float) -> str:
    minutes = max(1, math.ceil(seconds / MINUTE))
    return f"{minutes} minute{'s' * (minutes != 1)}"


class KeepBuckets:
    """A token bucket per student: ``burst`` keeps at once, refilled at ``rate`` a second."""

    def __init__(self, rate: float, burst: int):
        self.rate, self.burst = rate, burst
        self._buckets: dict[str, tuple[float, float]] = {}  # student: (tokens, when counted)

    def _tokens(self, student: str, now: float) -> float:
        tokens, then = self._buckets.get(student, (self.burst, now))
        return min(self.burst, tokens + max(0.0, now - then) * self.rate)  # a clock set back adds none

    def allows(self, student: str, now: float) -> bool:
        return self._tokens(student, now) >= 1

    def wait(self, student: str, now: float) -> float:
        """Seconds until one token is there again; 0 when it is now."""
        return max(0.0, (1 - self._tokens(student, now)) / self.rate) if self.rate > 0 else \
            (0.0 if self.allows(student, now) else math.inf)

    def spend(self, student: str, now: float) -> None:
        if len(self._buckets) >= MANY:  # a full bucket is the same as none
            self._buckets = {s: b for s, b in self._buckets.items() if self._tokens(s, now) < self.burst}
        self._buckets[student] = (self._tokens(student, now) - 1, now)

    def forget(self, students) -> None:
        for student in students:
            self._buckets.pop(student, None)


# ---------------------------------------------------------------------------- the database

# Every table is keyed by the class's code first, so a class's rows are found through an index and
# no query can reach another class's without naming its code. Drawings are ordered by (created,
# seq): the index drawings_by_time gives the wall its newest ones without sorting.
SCHEMA = """
CREATE TABLE classes (
    code TEXT PRIMARY KEY,
    teacher_token TEXT NOT NULL,             -- kept so the host can always print the teacher link
    teacher_hash BLOB NOT NULL UNIQUE,       -- what a teacher link is looked up by
    wall_token TEXT NOT NULL,
    wall_hash BLOB NOT NULL UNIQUE,
    created REAL NOT NULL,
    expires REAL NOT NULL,
    locked INTEGER NOT NULL DEFAULT 0,
    version INTEGER NOT NULL DEFAULT 1,      -- what the wall polls: +1 on every change it shows
    model_version INTEGER NOT NULL DEFAULT 0 -- what students' pads poll: +1 on every publish
);
CREATE INDEX classes_by_expiry ON classes (expires);
CREATE TABLE students (
    code TEXT NOT NULL REFERENCES classes (code),
    student TEXT NOT NULL,
    joined REAL NOT NULL,
    PRIMARY KEY (code, student)
) WITHOUT ROWID;
CREATE TABLE drawings (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,   -- never reused, so "since" never skips a new drawing
    code TEXT NOT NULL REFERENCES classes (code),
    drawing_id INTEGER NOT NULL,
    student TEXT NOT NULL,
    label INTEGER NOT NULL CHECK (label BETWEEN 0 AND 9),
    linear INTEGER NOT NULL CHECK (linear BETWEEN 0 AND 9),
    cnn INTEGER NOT NULL CHECK (cnn BETWEEN 0 AND 9),
    pixels BLOB NOT NULL CHECK (typeof(pixels) = 'blob' AND length(pixels) = 784),
    created REAL NOT NULL,
    UNIQUE (code, drawing_id)                -- a keep repeated by a retry is stored once
);
CREATE INDEX drawings_by_time ON drawings (code, created);
CREATE INDEX drawings_by_student ON drawings (code, student);
CREATE TABLE models (
    code TEXT NOT NULL REFERENCES classes (code),
    name TEXT NOT NULL,
    weights BLOB NOT NULL,                   -- safetensors
    metadata TEXT NOT NULL,                  -- JSON object of text
    PRIMARY KEY (code, name)
) WITHOUT ROWID;
"""
# Each schema version's change from the one before: a new database is SCHEMA (version 1) and then
# every migration, as an old file is, so both end up alike.
MIGRATIONS = {
    # The paused wall: while not NULL, the wall shows only the drawings up to this seq; later ones
    # wait for the teacher (held). NULL: not paused.
    2: ("ALTER TABLE classes ADD COLUMN wall_upto INTEGER DEFAULT NULL",),
    # A student who left: kept (not deleted) with when they left, so that the same device joining
    # again gets its id back, and with it its keep bucket. NULL: in the class.
    3: ("ALTER TABLE students ADD COLUMN left_at REAL DEFAULT NULL",),
}
PRESENT = "left_at IS NULL"  # a student row of someone in the class (not one who left)
DRAWING_COLUMNS = "drawing_id, student, label, linear, cnn, pixels, created, seq"


def database_file(path: str | Path) -> Path:
    """A folder holds ``classes.sqlite3``; a path with a suffix (``x.sqlite3``) is the file itself."""
    path = Path(path)
    return path / DB_NAME if path.is_dir() or not path.suffix else path


class Classroom:
    """All classes on this server. Safe to call from many threads at once.

    One connection under a lock: SQLite's own work per call is tens of microseconds, so threads
    waiting on each other cost little, and each method's check-then-write is atomic in this process
    without retries. Writes also take SQLite's write lock first (BEGIN IMMEDIATE), so the host's
    CLI in another process cannot slip between a check and its write; it waits (busy_timeout).
    """

    def __init__(self, path: str | Path, limits: ClassLimits = ClassLimits(), clock=time.time):
        self.path = database_file(path)
        self.limits = limits
        self.clock = clock
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._wrong = WrongCodes(limits.join_failures_per_minute, limits.join_failures_per_day)
        self._keeps = KeepBuckets(limits.keeps_per_second, limits.keep_burst)
        self._classes_started = Starts(limits.classes_per_client_per_hour, 3600.0)
        self._students_added = Starts(limits.new_students_per_minute, MINUTE)
        self._origins: dict[str, dict[str, int]] = {}  # class: {client: students who joined from it}
        # isolation_level=None: no transactions opened behind our back; each method opens its own.
        self._db = sqlite3.connect(self.path, timeout=5.0, isolation_level=None, check_same_thread=False)
        mode = self._db.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if mode.lower() != "wal":
            raise RuntimeError(f"SQLite cannot keep {self.path} in WAL mode (it said {mode!r}): "
                               "use a local folder for MNIST_DATA_DIR.")
        # In WAL mode, NORMAL writes each commit to the WAL file before returning but does not fsync
        # it: a process killed at any point (kill -9, a crash, a restart) loses nothing that was
        # committed, since the operating system holds the write. Only a power cut or a kernel crash
        # can take back the last commits, and even then the file stays consistent. FULL would add
        # an fsync to every keep for that case alone.
        self._db.execute("PRAGMA synchronous = NORMAL")
        self._db.execute("PRAGMA busy_timeout = 5000")  # the CLI and the app wait for each other
        self._db.execute("PRAGMA foreign_keys = ON")  # no drawing, student or model without its class
        self._db.execute("PRAGMA secure_delete = ON")  # deleted drawings are overwritten, not left in free pages
        try:
            self._create_schema()
        except BaseException:
            self._db.close()
            raise
        self.expired_on_open = self.expire()

    def _create_schema(self) -> None:
        with self._transaction() as db:
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise RuntimeError(f"{self.path} was written by a newer version of the app (schema {version}; "
                                   f"this one reads {SCHEMA_VERSION}).")
            if version == 0:
                for statement in SCHEMA.split(";"):
                    if statement.strip():
                        db.execute(statement)
                version = 1
            for later in range(version + 1, SCHEMA_VERSION + 1):  # an older file, brought up to date
                for statement in MIGRATIONS[later]:
                    db.execute(statement)
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> Classroom:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @contextmanager
    def _transaction(self, write: bool = True) -> Iterator[sqlite3.Connection]:
        """All or nothing: a ClassError (or anything) raised inside rolls back every change."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            try:
                yield self._db
                self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:  # also after a failed COMMIT: never leave one open
                    self._db.execute("ROLLBACK")
                raise

    def _checkpoint(self) -> None:
        """After a deletion: copy the WAL into the database and empty it, so the deleted drawings'
        old pages are gone from the WAL too (secure_delete zeroed them in the database). Best effort:
        with a reader in another process it completes later, on SQLite's own checkpoints."""
        with self._lock:
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def _live(self, db: sqlite3.Connection, code: str, now: float) -> tuple | None:
        return db.execute("SELECT locked, expires FROM classes WHERE code = ? AND expires > ?",
                          (code, now)).fetchone()

    def _live_or_refuse(self, db: sqlite3.Connection, code: str, now: float) -> None:
        if self._live(db, code, now) is None:
            raise ClassError(ENDED, "ended")

    @staticmethod
    def _changed(db: sqlite3.Connection, code: str) -> None:
        db.execute("UPDATE classes SET version = version + 1 WHERE code = ?", (code,))

    # ------------------------------------------------------------------------ the teacher's

    normalize_code = staticmethod(normalize_code)

    def create_class(self, client: str | None = None) -> NewClass:
        """A new class: a code unique among the classes kept, and two 192-bit tokens. ``client``: who
        asks (addresses.client_of); each may start ``classes_per_client_per_hour`` (one it ended
        gives its slot back), so that one client cannot take every class the server holds. None:
        the host itself (its command line), not counted."""
        self.expire()
        now = self.clock()
        teacher, wall = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
        with self._transaction() as db:
            wait = 0.0 if client is None else self._classes_started.wait(str(client), now)
            if wait > 0:
                raise ClassError(f"Your network has started {self.limits.classes_per_client_per_hour} classes in "
                                 f"the last hour, as many as one may; try again in {in_minutes(wait)}, or end a "
                                 "class you no longer use.", "busy")
            live = db.execute("SELECT count(*) FROM classes").fetchone()[0]
            if live >= self.limits.max_classes:
                raise ClassError("This server has as many classes as it can hold right now; try again in an "
                                 "hour, or ask its host to end an old one.", "busy")
            code = new_code()
            while db.execute("SELECT 1 FROM classes WHERE code = ?", (code,)).fetchone():
                code = new_code()
            db.execute("INSERT INTO classes (code, teacher_token, teacher_hash, wall_token, wall_hash, created, "
                       "expires) VALUES (?, ?, ?, ?, ?, ?, ?)",
                       (code, teacher, digest(teacher), wall, digest(wall), now, now + self.limits.days * DAY))
            if client is not None:
                self._classes_started.add(str(client), code, now)
        return NewClass(code, teacher, wall)

    def _code_for(self, kind: str, token) -> str | None:
        key = digest(token)
        if key is None:
            return None
        with self._lock:
            row = self._db.execute(f"SELECT code, {kind}_token FROM classes WHERE {kind}_hash = ? AND expires > ?",
                                   (key, self.clock())).fetchone()
        return row[0] if row and hmac.compare_digest(row[1], token) else None

    def code_for_teacher(self, token: str) -> str | None:
        """The class a teacher link opens; None for a wrong token or an ended class."""
        return self._code_for("teacher", token)

    def code_for_wall(self, token: str) -> str | None:
        return self._code_for("wall", token)

    def _token(self, column: str, code: str) -> str | None:
        with self._lock:
            row = self._db.execute(f"SELECT {column} FROM classes WHERE code = ? AND expires > ?",
                                   (normalize_code(code), self.clock())).fetchone()
        return row[0] if row else None

    def teacher_token(self, code: str) -> str | None:
        """For the host's CLI: the host can always give a teacher their link back."""
        return self._token("teacher_token", code)

    def wall_token(self, code: str) -> str | None:
        return self._token("wall_token", code)

    def set_locked(self, code: str, locked: bool) -> None:
        """Locked: nobody new can join; those in the class stay and keep drawing."""
        code, now = normalize_code(code), self.clock()
        with self._transaction() as db:
            self._live_or_refuse(db, code, now)
            db.execute("UPDATE classes SET locked = ? WHERE code = ?", (int(bool(locked)), code))
            self._changed(db, code)

    def new_teacher_token(self, code: str) -> str:
        """Replace the class's teacher token (its link was seen, say on a projector): the old link
        opens nothing from now on. Returns the new token."""
        code, now = normalize_code(code), self.clock()
        token = secrets.token_urlsafe(24)
        with self._transaction() as db:
            self._live_or_refuse(db, code, now)
            db.execute("UPDATE classes SET teacher_token = ?, teacher_hash = ? WHERE code = ?",
                       (token, digest(token), code))
        return token

    def pause_wall(self, code: str) -> None:
        """From now on, new drawings wait for the teacher before the wall shows them (held); the
        wall keeps what it showed. Pausing a paused wall changes nothing."""
        code, now = normalize_code(code), self.clock()
        with self._transaction() as db:
            self._live_or_refuse(db, code, now)
            if db.execute("UPDATE classes SET wall_upto = (SELECT coalesce(max(seq), 0) FROM drawings) "
                          "WHERE code = ? AND wall_upto IS NULL", (code,)).rowcount:
                self._changed(db, code)

    def show_held(self, code: str, *, resume: bool = False) -> int:
        """Let the held drawings through to the wall; the wall stays paused for the next ones,
        unless ``resume``. Returns how many were held."""
        code, now = normalize_code(code), self.clock()
        with self._transaction() as db:
            self._live_or_refuse(db, code, now)
            held = self._held(db, code)
            upto = None if resume else db.execute("SELECT coalesce(max(seq), 0) FROM drawings").fetchone()[0]
            if db.execute("UPDATE classes SET wall_upto = ? WHERE code = ? AND wall_upto IS NOT NULL",
                          (upto, code)).rowcount:
                self._changed(db, code)
        return held

    def wall_paused(self, code: str) -> int | None:
        """None when the wall shows every drawing; else the ``order`` (seq) of the last drawing it
        shows: those after it are held."""
        with self._lock:
            row = self._db.execute("SELECT wall_upto FROM classes WHERE code = ? AND expires > ?",
                                   (normalize_code(code), self.clock())).fetchone()
        return row[0] if row else None

    @staticmethod
    def _held(db: sqlite3.Connection, code: str) -> int:
        return db.execute("SELECT count(*) FROM drawings d JOIN classes c ON c.code = d.code "
                          "WHERE d.code = ? AND c.wall_upto IS NOT NULL AND d.seq > c.wall_upto",
                          (code,)).fetchone()[0]

    def held_count(self, code: str) -> int:
        """Drawings waiting for the teacher while the wall is paused."""
        code, now = normalize_code(code), self.clock()
        with self._transaction(write=False) as db:
            return self._held(db, code) if self._live(db, code, now) else 0

    def wall_answers(self, code: str) -> np.ndarray:
        """``answers`` without the held drawings: what the wall's figures count."""
        upto = self.wall_paused(code)
        answers = self.answers(code) if upto is None else self._wall_rows(code, upto)
        return answers

    def _wall_rows(self, code: str, upto: int) -> np.ndarray:
        code, now = normalize_code(code), self.clock()
        with self._transaction(write=False) as db:
            rows = db.execute("SELECT label, linear, cnn FROM drawings WHERE code = ? AND seq <= ? "
                              "ORDER BY created, seq", (code, upto)).fetchall() if self._live(db, code, now) else []
        return np.array(rows, dtype=np.int64).reshape(-1, 3)

    def wall_newest(self, code: str, n: int) -> list[Drawing]:
        """``newest`` without the held drawings: what the wall shows."""
        upto = self.wall_paused(code)
        if upto is None:
            return self.newest(code, n)
        n = whole_number(n)
        if n is None or n <= 0:
            return []
        return self._drawings(code, " AND seq <= ?", (upto,), "created DESC, seq DESC",
                              min(n, self.limits.max_drawings))

    def wall_drawings(self, code: str) -> list[Drawing]:
        """``drawings`` without the held ones: what a click on the wall's confusion cells may show."""
        upto = self.wall_paused(code)
        return self.drawings(code) if upto is None else self._drawings(code, " AND seq <= ?", (upto,), "created, seq")

    def remove_drawing(self, code: str, drawing_id: int) -> bool:
        """Delete one drawing; False if the class has none with that id (already removed)."""
        code, drawing_id, now = normalize_code(code), checked_id(drawing_id), self.clock()
        with self._transaction() as db:
            self._live_or_refuse(db, code, now)
            removed = db.execute("DELETE FROM drawings WHERE code = ? AND drawing_id = ?",
                                 (code, drawing_id)).rowcount
            if removed:
                self._changed(db, code)
        if removed:
            self._checkpoint()  # gone means gone: its pixels out of the WAL too
        return bool(removed)

    def remove_student(self, code: str, student: str) -> int:
        """Delete all of one student's drawings and drop them from the class (to come back they must
        join again, as someone new). Returns how many drawings were deleted."""
        code, student, now = normalize_code(code), as_text(student), self.clock()
        with self._transaction() as db:
            self._live_or_refuse(db, code, now)
            removed = db.execute("DELETE FROM drawings WHERE code = ? AND student = ?", (code, student)).rowcount
            dropped = db.execute("DELETE FROM students WHERE code = ? AND student = ?", (code, student)).rowcount
            if removed or dropped:
                self._changed(db, code)
            self._keeps.forget([student])
        if removed:
            self._checkpoint()
        return removed

    def student_of(self, code: str, drawing_id: int) -> str | None:
        """Who gave a drawing, for "remove all of this student's": never shown, only passed back."""
        drawing_id = whole_number(drawing_id)
        code, now = normalize_code(code), self.clock()
        with self._transaction(write=False) as db:
            if drawing_id is None or not self._live(db, code, now):
                return None
            row = db.execute("SELECT student FROM drawings WHERE code = ? AND drawing_id = ?",
                             (code, drawing_id)).fetchone()
        return row[0] if row else None

    def end_class(self, code: str) -> ClassSummary:
        """Delete the class, its students, drawings and models, for real: the rows go, and their
        bytes are overwritten (secure_delete, then a checkpoint). Returns what was deleted."""
        code, now = normalize_code(code), self.clock()
        with self._transaction() as db:
            self._live_or_refuse(db, code, now)
            summary = self._summaries(db, code)[0]
            students = [row[0] for row in db.execute("SELECT student FROM students WHERE code = ?", (code,))]
            self._delete(db, code)
        self._forget_class(code, students)
        self._checkpoint()
        return summary

    def _forget_class(self, code: str, students) -> None:
        """What memory holds of a class that is gone: its students' buckets, where they joined from,
        and its place in its teacher's classes of the hour (an ended class frees it)."""
        with self._lock:
            self._keeps.forget(students)
            self._classes_started.forget(code)
            self._origins.pop(code, None)

    @staticmethod
    def _delete(db: sqlite3.Connection, code: str) -> None:
        for table in ("models", "drawings", "students", "classes"):  # children first (foreign keys)
            db.execute(f"DELETE FROM {table} WHERE code = ?", (code,))

    def publish_model(self, code: str, models: dict[str, bytes], metadata: dict[str, dict[str, str]]) -> int:
        """Give the class these models (safetensors bytes by name, with text notes), replacing the
        ones published before. Returns the new model version, which students' pads poll."""
        checked = checked_models(models, metadata)
        code, now = normalize_code(code), self.clock()
        with self._transaction() as db:
            self._live_or_refuse(db, code, now)
            db.execute("DELETE FROM models WHERE code = ?", (code,))
            db.executemany("INSERT INTO models (code, name, weights, metadata) VALUES (?, ?, ?, ?)",
                           [(code, name, blob, notes) for name, (blob, notes) in checked.items()])
            db.execute("UPDATE classes SET model_version = model_version + 1, version = version + 1 "
                       "WHERE code = ?", (code,))
            return db.execute("SELECT model_version FROM classes WHERE code = ?", (code,)).fetchone()[0]

    # ------------------------------------------------------------------------ the students'

    def join(self, code: str, client: str, former: str | None = None) -> str:
        """A new anonymous student id for the class with this code, or ClassError. ``client``: who is
        asking (their address): each has its own budget of wrong codes, and of new students a
        minute. A school behind one address shares them; a malformed code does not spend the first
        (it cannot hit a class). ``former``: the id this device had in this class before it left:
        it gets it back (and its keep bucket with it), and adds no new student."""
        client, now = str(client), self.clock()
        with self._lock:
            wait = self._wrong.wait(client, now)
            if wait > 0:
                raise ClassError(TOO_MANY_WRONG if wait <= MINUTE else
                                 f"Too many wrong codes from your network; try again in {in_minutes(wait)}.", "wrong")
            code = normalize_code(code)
            if not well_formed(code):
                raise ClassError(MALFORMED)
            with self._transaction() as db:
                row = db.execute("SELECT locked, expires FROM classes WHERE code = ?", (code,)).fetchone()
                if row is None:
                    self._wrong.add(client, now)
                    raise ClassError(f"No class has the code {code}; check it with your teacher.", "wrong")
                locked, expires = row
                if expires <= now:
                    raise ClassError(ENDED, "ended")
                if locked:
                    raise ClassError(LOCKED, "locked")
                students = db.execute(f"SELECT count(*) FROM students WHERE code = ? AND {PRESENT}",
                                      (code,)).fetchone()[0]
                if students >= self.limits.max_students:
                    raise ClassError(f"This class is full: it has {students:,} students, as many as it can take.",
                                     "full")
                if isinstance(former, str) and db.execute(
                        "UPDATE students SET left_at = NULL WHERE code = ? AND student = ? AND left_at IS NOT NULL",
                        (code, former)).rowcount:
                    self._changed(db, code)
                    return former
                ever = db.execute("SELECT count(*) FROM students WHERE code = ?", (code,)).fetchone()[0]
                if ever >= 10 * self.limits.max_students:  # those who left are kept (their ids come back)
                    raise ClassError("This class has had as many students join as it can count; ask your teacher "
                                     "to start a new class.", "full")
                wait = self._students_added.wait(client, now)
                if wait > 0:
                    raise ClassError(f"{self.limits.new_students_per_minute} students joined from your network in "
                                     f"the last minute, as many as may; try again in {in_minutes(wait)}.", "slow")
                student = secrets.token_urlsafe(16)  # 128 bits: an id nobody can guess to send as someone else
                db.execute("INSERT INTO students (code, student, joined) VALUES (?, ?, ?)", (code, student, now))
                self._changed(db, code)
                self._students_added.add(client, f"{code} {student}", now)
                origins = self._origins.setdefault(code, {})
                origins[client] = origins.get(client, 0) + 1
        return student

    def most_from_one_client(self, code: str) -> int:
        """The most students who joined this class from one address (a school's router: all of them;
        one phone: a student adding made-up classmates). Since the server started: in memory."""
        with self._lock:
            return max(self._origins.get(normalize_code(code), {}).values(), default=0)

    def is_member(self, code: str, student: str) -> bool:
        """The class is live and the student is in it (did not leave, was not removed)."""
        code, student, now = normalize_code(code), as_text(student), self.clock()
        with self._transaction(write=False) as db:
            return bool(self._live(db, code, now)) and db.execute(
                f"SELECT 1 FROM students WHERE code = ? AND student = ? AND {PRESENT}", (code, student)).fetchone() \
                is not None

    def leave(self, code: str, student: str) -> None:
        """The student leaves. Their drawings stay: they were given to the class, without a name,
        and the teacher can still remove them one by one."""
        code, student, now = normalize_code(code), as_text(student), self.clock()
        with self._transaction() as db:
            self._live_or_refuse(db, code, now)
            if db.execute(f"UPDATE students SET left_at = ? WHERE code = ? AND student = ? AND {PRESENT}",
                          (now, code, student)).rowcount:
                self._changed(db, code)
        # Its keep bucket stays: the same device joining again gets this id back (join's ``former``).

    def add_drawing(self, code: str, student: str, drawing_id: int, label: int, linear: int, cnn: int,
                    pixels: bytes) -> bool:
        """Store a kept drawing in the class. True: stored now; False: this drawing id was stored
        before (a double tap or a network retry), so it is stored exactly once. Anything wrong is a
        ClassError with a sentence, and nothing is stored."""
        drawing_id = checked_id(drawing_id)
        label, linear, cnn = checked_digit(label), checked_digit(linear), checked_digit(cnn)
        pixels = checked_pixels(pixels)
        code, student, now = normalize_code(code), as_text(student), self.clock()
        with self._transaction() as db:
            self._live_or_refuse(db, code, now)
            if not db.execute(f"SELECT 1 FROM students WHERE code = ? AND student = ? AND {PRESENT}",
                              (code, student)).fetchone():
                raise ClassError(NOT_IN_CLASS, "removed")
            # A repeat is answered before the caps: the drawing is in, so "slow down" or "full" would
            # be wrong, and a retry costs the student none of their keeps.
            if db.execute("SELECT 1 FROM drawings WHERE code = ? AND drawing_id = ?", (code, drawing_id)).fetchone():
                return False
            if not self._keeps.allows(student, now):
                raise ClassError(f"Slow down a little: at most {self.limits.keeps_per_second:g} drawings a second "
                                 "go to the class.", "slow")
            count = db.execute("SELECT count(*) FROM drawings WHERE code = ?", (code,)).fetchone()[0]
            if count >= self.limits.max_drawings:
                raise ClassError(f"This class holds at most {self.limits.max_drawings:,} drawings and has them "
                                 "all; your drawing is still in your own collection.", "capacity")
            # OR IGNORE with the UNIQUE (code, drawing_id): stored once even if the check above missed.
            stored = db.execute(
                "INSERT OR IGNORE INTO drawings (code, drawing_id, student, label, linear, cnn, pixels, created) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (code, drawing_id, student, label, linear, cnn, pixels, now)).rowcount
            if stored:
                self._changed(db, code)
                self._keeps.spend(student, now)
        return bool(stored)

    def withdraw(self, code: str, student: str, drawing_ids) -> int:
        """A student takes back drawings they sent (deleted in their own collection). Only their own:
        the drawing ids are on the wall for anyone to read, the student's id is not. Works after they
        left the class too. Returns how many were deleted."""
        ids = [checked_id(i) for i in list(drawing_ids)[:self.limits.max_drawings]]
        code, student, now = normalize_code(code), as_text(student), self.clock()
        with self._transaction() as db:
            self._live_or_refuse(db, code, now)
            # One statement, whatever the number of ids: the lock it holds is held briefly.
            removed = db.execute("DELETE FROM drawings WHERE code = ? AND student = ? AND drawing_id IN "
                                 "(SELECT value FROM json_each(?))", (code, student, json.dumps(ids))).rowcount
            if removed:
                self._changed(db, code)
        if removed:
            self._checkpoint()
        return removed

    def model_version(self, code: str) -> int:
        """0 while the class has no model. One read by primary key: students' pads poll it."""
        with self._lock:
            row = self._db.execute("SELECT model_version FROM classes WHERE code = ? AND expires > ?",
                                   (normalize_code(code), self.clock())).fetchone()
        return row[0] if row else 0

    def class_models(self, code: str) -> tuple[int, dict[str, bytes], dict[str, dict[str, str]]] | None:
        """(model version, safetensors bytes by name, notes by name), or None without a model."""
        code, now = normalize_code(code), self.clock()
        with self._transaction(write=False) as db:
            row = db.execute("SELECT model_version FROM classes WHERE code = ? AND expires > ?", (code, now)).fetchone()
            models = db.execute("SELECT name, weights, metadata FROM models WHERE code = ? ORDER BY name",
                                (code,)).fetchall()
        if not row or not models:
            return None
        return row[0], {name: bytes(blob) for name, blob, _ in models}, {name: json.loads(notes)
                                                                        for name, _, notes in models}

    def class_model_notes(self, code: str) -> dict[str, dict[str, str]]:
        """The published model's notes by name (what it scored before and after), without its
        weights: what a wall shows. Empty without a model."""
        code, now = normalize_code(code), self.clock()
        with self._transaction(write=False) as db:
            rows = db.execute("SELECT name, metadata FROM models WHERE code = ? ORDER BY name",
                              (code,)).fetchall() if self._live(db, code, now) else []
        return {name: json.loads(notes) for name, notes in rows}

    # ------------------------------------------------------------------------ the wall's (and the teacher's)

    def version(self, code: str) -> int:
        """Changes whenever anything the wall shows changes (drawings, students, lock, model); 0 for
        an ended class. One read by primary key, so a wall can poll it every second."""
        with self._lock:
            row = self._db.execute("SELECT version FROM classes WHERE code = ? AND expires > ?",
                                   (normalize_code(code), self.clock())).fetchone()
        return row[0] if row else 0

    def _drawings(self, code: str, where: str, args: tuple, order: str, limit: int = -1) -> list[Drawing]:
        code, now = normalize_code(code), self.clock()
        with self._transaction(write=False) as db:
            if not self._live(db, code, now):
                return []
            rows = db.execute(f"SELECT {DRAWING_COLUMNS} FROM drawings WHERE code = ?{where} ORDER BY {order} "
                              "LIMIT ?", (code, *args, limit)).fetchall()
        return [Drawing(*row) for row in rows]

    def drawings(self, code: str, *, since_id_order: int | None = None) -> list[Drawing]:
        """The class's drawings, oldest first; with ``since_id_order``, only those stored after the
        drawing whose ``order`` that is (what the caller has seen already)."""
        since = whole_number(since_id_order)
        where, args = ("", ()) if since is None else (" AND seq > ?", (since,))
        return self._drawings(code, where, args, "created, seq")

    def answers(self, code: str) -> np.ndarray:
        """Every drawing's (label, linear, cnn), oldest first, as an (N, 3) array: what the wall's
        counts, scores and confusion matrices need, without reading any drawing's pixels."""
        code, now = normalize_code(code), self.clock()
        with self._transaction(write=False) as db:
            rows = db.execute("SELECT label, linear, cnn FROM drawings WHERE code = ? ORDER BY created, seq",
                              (code,)).fetchall() if self._live(db, code, now) else []
        return np.array(rows, dtype=np.int64).reshape(-1, 3)

    def newest(self, code: str, n: int) -> list[Drawing]:
        """The class's ``n`` newest drawings, newest first."""
        n = whole_number(n)
        if n is None or n <= 0:
            return []
        return self._drawings(code, "", (), "created DESC, seq DESC", min(n, self.limits.max_drawings))

    def count(self, code: str) -> int:
        code, now = normalize_code(code), self.clock()
        with self._transaction(write=False) as db:
            if not self._live(db, code, now):
                return 0
            return db.execute("SELECT count(*) FROM drawings WHERE code = ?", (code,)).fetchone()[0]

    # ------------------------------------------------------------------------ the host's

    def _summaries(self, db: sqlite3.Connection, code: str | None = None) -> list[ClassSummary]:
        rows = db.execute(
            "SELECT code, created, expires, locked, "
            f"(SELECT count(*) FROM students s WHERE s.code = c.code AND s.{PRESENT}), "
            "(SELECT count(*) FROM drawings d WHERE d.code = c.code) "
            "FROM classes c WHERE ? IS NULL OR code = ? ORDER BY created, code", (code, code)).fetchall()
        return [ClassSummary(code, created, expires, bool(locked), students, drawings)
                for code, created, expires, locked, students, drawings in rows]

    def summary(self, code: str) -> ClassSummary | None:
        """One live class's figures (for the teacher's page), or None."""
        code, now = normalize_code(code), self.clock()
        with self._transaction(write=False) as db:
            return self._summaries(db, code)[0] if self._live(db, code, now) else None

    def classes(self) -> list[ClassSummary]:
        """Every class kept, oldest first (an expired one until ``expire`` deletes it)."""
        with self._transaction(write=False) as db:
            return self._summaries(db)

    def expire(self) -> int:
        """Delete every class whose time is up, with everything in it. Returns how many. Runs when
        the database is opened and before each new class (often enough: an expired class is
        already refused everywhere; this is what removes its data)."""
        now = self.clock()
        with self._transaction() as db:
            # ...and every class that nobody used: no student ever joined, nothing was drawn or trained,
            # ``empty_hours`` after it started (a class started and forgotten, or a flood of them).
            codes = [row[0] for row in db.execute(
                "SELECT code FROM classes c WHERE expires <= ? OR (created <= ? "
                "AND NOT EXISTS (SELECT 1 FROM students s WHERE s.code = c.code) "
                "AND NOT EXISTS (SELECT 1 FROM drawings d WHERE d.code = c.code) "
                "AND NOT EXISTS (SELECT 1 FROM models m WHERE m.code = c.code))",
                (now, now - self.limits.empty_hours * 3600))]
            students = [row[0] for code in codes
                        for row in db.execute("SELECT student FROM students WHERE code = ?", (code,))]
            for code in codes:
                self._delete(db, code)
        for code in codes:
            self._forget_class(code, students)
        if codes:
            self._checkpoint()
        return len(codes)
