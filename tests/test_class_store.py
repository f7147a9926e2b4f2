"""A class together, as stored: codes and tokens, joining and its rate limit, the caps, exactly-once
keeps, moderation, ending and expiry deleting for real, classes kept apart, and nothing
acknowledged lost to a kill -9."""

import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save

from mnist_demo.classes.store import (
    CODE_LENGTH,
    DAY,
    DB_NAME,
    JOIN_ALPHABET,
    MINUTE,
    SCHEMA_VERSION,
    ClassError,
    ClassLimits,
    Classroom,
    normalize_code,
    to_digits,
)

REPO = Path(__file__).resolve().parents[1]
TABLES = ("classes", "students", "drawings", "models")
FAST = ClassLimits(keeps_per_second=1e6, keep_burst=10**6)  # for tests that are not about the keep rate


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, t: float = 1_700_000_000.0):
        self.t = t

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def room(tmp_path, clock):
    with Classroom(tmp_path, FAST, clock=clock) as r:
        yield r


@pytest.fixture
def opened(tmp_path, clock):
    """Opens the classroom on tmp_path with other limits; closes every one after the test."""
    rooms = []

    def open_room(limits: ClassLimits | None = None) -> Classroom:
        rooms.append(Classroom(tmp_path, limits or ClassLimits(), clock=clock))
        return rooms[-1]
    yield open_room
    for r in rooms:
        r.close()


def pixels(k: int) -> bytes:
    return bytes((k + i) % 256 for i in range(784))


def keep(room, code, student, drawing_id, label=3, linear=3, cnn=5):
    return room.add_drawing(code, student, drawing_id, label, linear, cnn, pixels(drawing_id))


def rows(path: Path, code: str) -> dict[str, int]:
    """How many rows of each table name this class, read from the file itself."""
    with sqlite3.connect(path / DB_NAME) as db:
        return {t: db.execute(f"SELECT count(*) FROM {t} WHERE code = ?", (code,)).fetchone()[0] for t in TABLES}


def a_model(value: float = 1.0) -> bytes:
    return save({"w": np.full(3, value, np.float32)})


# ---------------------------------------------------------------------------- codes and tokens


def test_codes_use_only_the_alphabet_and_are_unique(room):
    codes = [room.create_class().code for _ in range(300)]
    assert len(set(codes)) == 300
    assert all(len(c) == CODE_LENGTH and set(c) <= set(JOIN_ALPHABET) for c in codes)
    assert len(set(JOIN_ALPHABET)) == len(JOIN_ALPHABET) >= 20


@pytest.mark.parametrize("pair", ["0O", "1I", "1L", "IL", "2Z", "5S", "8B", "6G"])
def test_the_alphabet_has_no_look_alikes(pair):
    assert not set(pair) <= set(JOIN_ALPHABET)


def test_a_typed_code_is_read_in_any_case_with_spaces_and_dashes(room):
    code = room.create_class().code
    assert normalize_code(f" {code[:3].lower()}-{code[3:]} ") == code
    assert room.is_member(code, room.join(f"{code[:3]} {code[3:].lower()}", "phone"))
    assert normalize_code(None) == "" and room.normalize_code("a-c d") == "ACD"


def test_tokens_have_at_least_128_bits_and_each_opens_only_its_own_page(room, clock):
    made = [room.create_class() for _ in range(20)]
    tokens = [t for c in made for t in (c.teacher_token, c.wall_token)]
    assert len(set(tokens)) == len(tokens)
    # token_urlsafe: 6 bits a character, from secrets
    assert all(len(t) * 6 >= 128 and set(t) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                                   "0123456789-_") for t in tokens)
    new = made[0]
    assert room.code_for_teacher(new.teacher_token) == new.code == room.code_for_wall(new.wall_token)
    assert room.code_for_teacher(new.wall_token) is None  # the projector's link never opens the controls
    assert room.code_for_wall(new.teacher_token) is None
    one_off = new.teacher_token[:-1] + ("y" if new.teacher_token.endswith("x") else "x")  # one character changed
    assert room.code_for_teacher(one_off) is None
    assert room.code_for_teacher(new.code) is None  # the code read aloud is not a teacher link
    assert all(room.code_for_teacher(t) is None for t in ("", None, 5, "x" * 10_000))
    assert (room.teacher_token(new.code), room.wall_token(new.code)) == (new.teacher_token, new.wall_token)
    clock.t += 7 * DAY
    assert room.code_for_teacher(new.teacher_token) is None and room.teacher_token(new.code) is None


# ---------------------------------------------------------------------------- joining


def test_join_leave_and_membership(room):
    code = room.create_class().code
    a, b = room.join(code, "1.1.1.1"), room.join(code, "1.1.1.1")
    assert a != b and len(a) * 6 >= 96
    assert room.is_member(code, a) and room.is_member(code, b)
    assert keep(room, code, a, 1)
    room.leave(code, a)
    assert not room.is_member(code, a) and room.is_member(code, b)
    assert room.count(code) == 1  # what a student gave the class stays when they leave
    with pytest.raises(ClassError, match="not in this class"):
        keep(room, code, a, 2)
    room.leave(code, a)  # leaving twice is harmless
    assert not room.is_member(code, "made-up") and not room.is_member(code, None)
    with pytest.raises(ClassError, match="This class has ended"):
        room.leave("ACDEFH", b)


def test_wrong_codes_are_rate_limited_per_client(room, clock):
    code = room.create_class().code
    wrong = "ACDEFH" if code != "ACDEFH" else "ACDEFJ"
    budget = room.limits.join_failures_per_minute
    assert budget >= 30  # a room of 100 phones behind one router mistyping: never locked out
    for _ in range(budget):
        with pytest.raises(ClassError, match=f"No class has the code {wrong}"):
            room.join(wrong, "guesser")
    with pytest.raises(ClassError, match="Too many wrong codes from your network; wait a minute."):
        room.join(code, "guesser")  # even the right code, from this client
    assert room.is_member(code, room.join(code, "someone else"))
    clock.t += 0.5  # the budget refills steadily: a minute's worth over a minute
    with pytest.raises(ClassError, match="Too many wrong codes"):
        room.join(code, "guesser")
    clock.t += MINUTE / budget
    assert room.is_member(code, room.join(code, "guesser"))


def test_a_day_of_wrong_codes_is_capped_and_the_refusal_says_when(tmp_path, clock):
    """Guessing one of 24**6 codes at the minute's budget all day long is refused past the day's."""
    with Classroom(tmp_path, ClassLimits(join_failures_per_minute=60, join_failures_per_day=100),
                   clock=clock) as room:
        code = room.create_class().code
        wrong = "ACDEFH" if code != "ACDEFH" else "ACDEFJ"
        for _ in range(100):
            clock.t += 1.0  # one a second: within the minute's budget
            with pytest.raises(ClassError, match="No class has the code"):
                room.join(wrong, "guesser")
        clock.t += MINUTE  # the minute's budget is back, the day's is not
        with pytest.raises(ClassError, match=r"Too many wrong codes from your network; try again in \d+ minutes\."):
            room.join(code, "guesser")
        assert room.is_member(code, room.join(code, "another school"))


def test_a_malformed_code_says_so_and_spends_no_tries(room):
    code = room.create_class().code
    for typed in ["", "ABC", "ACDEFHJ", "0O0O0O", "AC DE F!"] * 5:
        with pytest.raises(ClassError, match="A class code is 6 letters and digits"):
            room.join(typed, "clumsy")
    assert room.is_member(code, room.join(code, "clumsy"))


def test_a_locked_class_takes_nobody_new_but_keeps_its_students(room):
    code = room.create_class().code
    inside = room.join(code, "x")
    before = room.version(code)
    room.set_locked(code, True)
    assert room.version(code) > before and room.summary(code).locked
    for _ in range(12):  # a right code to a locked class is not a wrong code
        with pytest.raises(ClassError, match="This class is not taking new students right now."):
            room.join(code, "late")
    assert keep(room, code, inside, 1)
    room.set_locked(code, False)
    assert room.is_member(code, room.join(code, "late"))


# ---------------------------------------------------------------------------- caps


def test_a_full_class_refuses_the_next_student(tmp_path, opened):
    room = opened(ClassLimits(max_students=2))
    code = room.create_class().code
    room.join(code, "a"), room.join(code, "b")
    with pytest.raises(ClassError, match="This class is full: it has 2 students"):
        room.join(code, "c")
    assert room.summary(code).students == 2 == rows(tmp_path, code)["students"]


def test_a_class_full_of_drawings_refuses_more_and_stores_nothing(tmp_path, opened):
    room = opened(ClassLimits(max_drawings=3, keeps_per_second=100, keep_burst=100))
    code = room.create_class().code
    s = room.join(code, "a")
    assert all(keep(room, code, s, i) for i in (1, 2, 3))
    with pytest.raises(ClassError, match="at most 3 drawings"):
        keep(room, code, s, 4)
    assert not keep(room, code, s, 3)  # a retry of a stored one is still answered "stored before"
    assert room.count(code) == 3 == rows(tmp_path, code)["drawings"]


def test_keeps_per_second_allow_a_burst_then_the_steady_rate(opened, clock):
    room = opened(ClassLimits(keeps_per_second=4.0, keep_burst=8))
    code = room.create_class().code
    s, other = room.join(code, "a"), room.join(code, "b")
    assert all(keep(room, code, s, i) for i in range(1, 9))
    with pytest.raises(ClassError, match="Slow down a little: at most 4 drawings a second"):
        keep(room, code, s, 9)
    assert not keep(room, code, s, 8)  # a retry costs nothing and is not refused
    assert keep(room, code, other, 100)  # another student's bucket is their own
    clock.t += 0.25  # one more keep's worth
    assert keep(room, code, s, 9)
    with pytest.raises(ClassError, match="Slow down"):
        keep(room, code, s, 10)
    assert room.count(code) == 10 and 10 not in [d.drawing_id for d in room.drawings(code)]


def test_the_server_holds_a_bounded_number_of_classes(opened):
    room = opened(ClassLimits(max_classes=2))
    first = room.create_class().code
    room.create_class()
    with pytest.raises(ClassError, match="as many classes as it can hold"):
        room.create_class()
    room.end_class(first)
    room.create_class()


# ---------------------------------------------------------------------------- keeping


def test_a_drawing_is_stored_with_its_answers_and_read_back(room, clock):
    code = room.create_class().code
    s = room.join(code, "a")
    assert room.add_drawing(code, s, 2**53 - 1, np.int64(7), 1, np.uint8(7), np.frombuffer(pixels(9), np.uint8))
    (d,) = room.drawings(code)
    assert (d.drawing_id, d.student, d.label, d.linear, d.cnn, d.pixels, d.created) == \
        (2**53 - 1, s, 7, 1, 7, pixels(9), clock.t)
    digits = to_digits(room.drawings(code))
    assert digits.pixels.shape == (1, 784) and digits.pixels.tobytes() == pixels(9) and digits.labels.tolist() == [7]


def test_the_same_drawing_twice_is_stored_once(room):
    code = room.create_class().code
    s = room.join(code, "a")
    before = room.version(code)
    assert keep(room, code, s, 42) is True
    assert keep(room, code, s, 42) is False
    assert room.count(code) == 1 and room.version(code) == before + 1  # the repeat changed nothing


def test_concurrent_keeps_with_overlapping_ids_are_each_stored_once(tmp_path, room):
    code = room.create_class().code
    students = [room.join(code, f"t{k}") for k in range(8)]
    stored = []

    def keeper(k):
        ids = list(range(k * 25, k * 25 + 100))  # each id is sent by up to four threads
        random.Random(k).shuffle(ids)
        stored.extend(i for i in ids if keep(room, code, students[k], i))
    threads = [threading.Thread(target=keeper, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    distinct = 7 * 25 + 100
    assert sorted(stored) == list(range(distinct))  # each id answered "stored now" exactly once
    assert room.count(code) == distinct == rows(tmp_path, code)["drawings"]


@pytest.mark.parametrize("field, value, sentence", [
    ("label", 10, "whole numbers from 0 to 9"), ("label", -1, "0 to 9"), ("label", 1.5, "0 to 9"),
    ("label", "3", "0 to 9"), ("label", True, "0 to 9"), ("linear", None, "0 to 9"), ("cnn", 12, "0 to 9"),
    ("drawing_id", -1, "id must be a whole number"), ("drawing_id", 2**53, "id must"), ("drawing_id", 1.0, "id must"),
    ("drawing_id", "7", "id must"), ("pixels", bytes(783), "784 bytes"), ("pixels", bytes(785), "784 bytes"),
    ("pixels", np.zeros(98), "784 bytes"), ("pixels", "x" * 784, "784 bytes"), ("pixels", None, "784 bytes")],
    ids=lambda v: v if isinstance(v, str) and len(v) < 30 else type(v).__name__)
def test_a_bad_payload_gets_a_sentence_and_stores_nothing(tmp_path, room, field, value, sentence):
    code = room.create_class().code
    s = room.join(code, "a")
    before = room.version(code)
    payload = dict(drawing_id=1, label=3, linear=3, cnn=3, pixels=pixels(1)) | {field: value}
    with pytest.raises(ClassError, match=sentence):
        room.add_drawing(code, s, **payload)
    assert room.count(code) == 0 == rows(tmp_path, code)["drawings"] and room.version(code) == before


def test_only_a_member_of_a_live_class_can_keep(room):
    code = room.create_class().code
    s = room.join(code, "a")
    for who in ["made-up", None, 7]:
        with pytest.raises(ClassError, match="not in this class"):
            keep(room, code, who, 1)
    with pytest.raises(ClassError, match="This class has ended."):
        keep(room, "ACDEFH" if code != "ACDEFH" else "ACDEFJ", s, 1)
    assert room.count(code) == 0


def test_drawings_come_oldest_first_newest_newest_first_and_since_what_was_seen(room, clock):
    code = room.create_class().code
    s = room.join(code, "a")
    for i in [50, 10, 30]:
        keep(room, code, s, i)
        clock.t += 1
    assert [d.drawing_id for d in room.drawings(code)] == [50, 10, 30]
    assert [d.drawing_id for d in room.newest(code, 2)] == [30, 10]
    seen = room.drawings(code)[-1].order
    room.remove_drawing(code, 30)  # removing the newest must not make the next one look seen
    keep(room, code, s, 20)
    assert [d.drawing_id for d in room.drawings(code, since_id_order=seen)] == [20]
    assert room.newest(code, 0) == [] and room.newest(code, -3) == []


# ---------------------------------------------------------------------------- moderation


def test_remove_a_drawing(room):
    code = room.create_class().code
    s = room.join(code, "a")
    keep(room, code, s, 1), keep(room, code, s, 2)
    assert room.student_of(code, 1) == s
    before = room.version(code)
    assert room.remove_drawing(code, 1) is True
    assert room.remove_drawing(code, 1) is False  # a second tap removes nothing more
    assert [d.drawing_id for d in room.drawings(code)] == [2] and room.student_of(code, 1) is None
    assert room.version(code) == before + 1


def test_remove_a_student_and_everything_they_gave(tmp_path, room):
    code = room.create_class().code
    a, b = room.join(code, "a"), room.join(code, "b")
    for i in range(3):
        keep(room, code, a, i)
    keep(room, code, b, 10), keep(room, code, b, 11)
    assert room.remove_student(code, a) == 3
    assert not room.is_member(code, a) and room.is_member(code, b)
    assert {d.student for d in room.drawings(code)} == {b} and room.count(code) == 2
    with pytest.raises(ClassError, match="not in this class"):
        keep(room, code, a, 5)
    assert room.remove_student(code, a) == 0


def test_end_class_deletes_everything_for_real(tmp_path, room):
    new, other = room.create_class(), room.create_class()
    s, t = room.join(new.code, "a"), room.join(other.code, "b")
    secret = bytes(random.Random(7).randrange(256) for _ in range(784))
    room.add_drawing(new.code, s, 1, 4, 4, 4, secret)
    keep(room, other.code, t, 1)
    room.publish_model(new.code, {"cnn": a_model()}, {"cnn": {"note": "ours"}})
    ended = room.end_class(new.code)
    assert (ended.code, ended.students, ended.drawings) == (new.code, 1, 1)
    assert rows(tmp_path, new.code) == dict.fromkeys(TABLES, 0)
    assert rows(tmp_path, other.code) == {"classes": 1, "students": 1, "drawings": 1, "models": 0}
    # secure_delete and the checkpoint: the drawing's bytes are not left anywhere in the files
    files = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith(DB_NAME))
    assert secret[:64] not in files and new.teacher_token.encode() not in files
    assert (room.drawings(new.code), room.count(new.code), room.version(new.code), room.model_version(new.code),
            room.class_models(new.code), room.code_for_teacher(new.teacher_token)) == ([], 0, 0, 0, None, None)
    for write in (lambda: keep(room, new.code, s, 2), lambda: room.set_locked(new.code, True),
                  lambda: room.remove_drawing(new.code, 1), lambda: room.end_class(new.code),
                  lambda: room.publish_model(new.code, {"cnn": a_model()}, {})):
        with pytest.raises(ClassError, match="This class has ended."):
            write()


def test_an_expired_class_is_refused_at_once_and_deleted_by_expire(tmp_path, room, clock):
    old = room.create_class().code
    s = room.join(old, "a")
    keep(room, old, s, 1)
    room.publish_model(old, {"cnn": a_model()}, {"cnn": {"valid_acc": "0.9"}})
    assert room.class_model_notes(old) == {"cnn": {"valid_acc": "0.9"}}
    clock.t += 7 * DAY - 1
    young = room.create_class().code
    clock.t += 2
    assert room.count(old) == 0 and room.drawings(old) == [] and not room.is_member(old, s)
    assert room.class_model_notes(old) == {}  # the wall's figures too
    with pytest.raises(ClassError, match="This class has ended."):
        room.join(old, "a")
    with pytest.raises(ClassError, match="This class has ended."):
        keep(room, old, s, 2)
    assert rows(tmp_path, old)["drawings"] == 1  # still on disk until expire() runs...
    assert room.expire() == 1
    assert rows(tmp_path, old) == dict.fromkeys(TABLES, 0)  # ...and then gone
    assert [c.code for c in room.classes()] == [young]


def test_expiry_also_runs_when_the_database_is_opened(tmp_path, clock, opened):
    code = opened().create_class().code
    clock.t += 8 * DAY
    assert opened().expired_on_open == 1
    assert rows(tmp_path, code)["classes"] == 0


def test_a_class_never_sees_another_classs_drawings(room):
    codes = [room.create_class().code for _ in range(2)]
    students = {c: [room.join(c, "x") for _ in range(3)] for c in codes}
    for i in range(30):  # interleaved, and the devices' ids may even coincide
        code = codes[i % 2]
        keep(room, code, students[code][i % 3], i // 2, label=i % 2)
    for label, code in enumerate(codes):
        mine = room.drawings(code)
        assert len(mine) == 15 and {d.label for d in mine} == {label}
        assert {d.student for d in mine} <= set(students[code])
    with pytest.raises(ClassError, match="not in this class"):
        keep(room, codes[1], students[codes[0]][0], 99)  # a student of one class cannot give to another
    assert room.student_of(codes[1], 99) is None
    assert room.remove_student(codes[1], students[codes[0]][0]) == 0 and room.count(codes[0]) == 15


# ---------------------------------------------------------------------------- the class's model


def test_publish_replace_and_read_the_class_model(room):
    code = room.create_class().code
    assert room.model_version(code) == 0 and room.class_models(code) is None and room.class_model_notes(code) == {}
    wall_before = room.version(code)
    v1 = room.publish_model(code, {"linear": a_model(1), "cnn": a_model(2)}, {"linear": {"acc": "0.9"}})
    assert v1 == 1 == room.model_version(code) and room.version(code) > wall_before
    version, models, notes = room.class_models(code)
    assert (version, models, notes) == (1, {"linear": a_model(1), "cnn": a_model(2)}, {"linear": {"acc": "0.9"},
                                                                                          "cnn": {}})
    assert room.class_model_notes(code) == notes  # what a wall reads, without the weights
    assert room.publish_model(code, {"cnn": a_model(3)}, {}) == 2
    assert room.class_models(code) == (2, {"cnn": a_model(3)}, {"cnn": {}})  # the previous ones replaced


@pytest.mark.parametrize("models, notes", [
    ({}, {}), ({"mlp": a_model()}, {}), ({"cnn": b"not safetensors"}, {}), ({"cnn": "text"}, {}),
    ({"cnn": a_model() + bytes(1_000_000)}, {}), ({"cnn": a_model()}, {"linear": {}}),
    ({"cnn": a_model()}, {"cnn": {"acc": 0.9}}), (None, {})],
    ids=["none", "unknown name", "not safetensors", "text", "too large", "notes for another", "notes not text",
         "not a dict"])
def test_a_bad_model_is_refused_and_the_published_one_stays(room, models, notes):
    code = room.create_class().code
    room.publish_model(code, {"cnn": a_model()}, {})
    with pytest.raises(ClassError):
        room.publish_model(code, models, notes)
    assert room.class_models(code) == (1, {"cnn": a_model()}, {"cnn": {}})


def test_the_model_names_and_size_cap_are_the_apps():
    from mnist_demo import models, weights
    from mnist_demo.classes import store

    assert store.MODEL_NAMES == tuple(models.MODEL_NAMES) and store.MAX_MODEL_BYTES == weights.MAX_BYTES


# ---------------------------------------------------------------------------- the file


def test_the_file_is_in_wal_mode_with_its_schema_version(tmp_path):
    Classroom(tmp_path / "sub" / "dir").close()  # the folder is made
    with sqlite3.connect(tmp_path / "sub" / "dir" / DB_NAME) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 3
        db.execute("PRAGMA user_version = 99")
    with pytest.raises(RuntimeError, match="newer version"):
        Classroom(tmp_path / "sub" / "dir")
    Classroom(tmp_path / "named.sqlite3").close()
    assert (tmp_path / "named.sqlite3").is_file()


WRITER = """
import sys
from mnist_demo.classes.store import ClassLimits, Classroom
room = Classroom(sys.argv[1], ClassLimits(max_drawings=10**7, keeps_per_second=1e9, keep_burst=10**9))
code = room.create_class().code
student = room.join(code, "here")
print(code, flush=True)
i = 0
while True:
    i += 1
    room.add_drawing(code, student, i, i % 10, 0, 0, bytes([i % 256]) * 784)
    print(i, flush=True)  # acknowledged: add_drawing returned
"""


def test_every_acknowledged_drawing_survives_kill_9(tmp_path):
    with subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path)], cwd=REPO, stdout=subprocess.PIPE,
                          text=True) as child:
        try:
            code = child.stdout.readline().strip()
            acknowledged = []
            while len(acknowledged) < 300:
                line = child.stdout.readline()
                assert line, "the writer stopped before it was killed"
                acknowledged.append(int(line))
            assert child.poll() is None  # still writing: killed mid-run
            os.kill(child.pid, signal.SIGKILL)
            acknowledged += [int(line) for line in child.stdout.read().split()]  # printed before the kill landed
        finally:
            child.kill()
    assert child.returncode == -signal.SIGKILL
    with Classroom(tmp_path) as room:
        stored = {d.drawing_id: d for d in room.drawings(code)}
    assert set(acknowledged) <= set(stored)
    assert all(stored[i].pixels == bytes([i % 256]) * 784 and stored[i].label == i % 10 for i in acknowledged)
