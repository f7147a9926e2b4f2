"""Attacks on a publicly hosted app, each with the answer it must get and, where memory is the
point, the peak memory it costs, measured in a fresh process (Linux: /proc's VmHWM, reset through
clear_refs before the attack). Goal: no request costs more than 300 MB.

    python3 -m pytest tests/test_attacks.py -m slow -q -s   # -s prints the figures (docs/attacks.md)
"""

import gzip
import json
import subprocess
import sys
import textwrap
import time
import urllib.request
from pathlib import Path

import pytest

from benchmarks.harness.client import api_client
from benchmarks.harness.launcher import launch
from tests.test_limits import post

pytestmark = [pytest.mark.slow, pytest.mark.long,
              pytest.mark.skipif(not sys.platform.startswith("linux"), reason="measures memory through /proc")]

REPO = Path(__file__).resolve().parents[1]
START_RSS: list[int] = []  # the app's memory as the attacks began
BUDGET = 300 * 1024 * 1024
MB = 1024 * 1024


def status_bytes(pid, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise KeyError(field)


def reset_peak(pid) -> None:
    Path(f"/proc/{pid}/clear_refs").write_text("5")  # VmHWM := VmRSS (Linux 4.0+)


def measured(setup: str, attack: str) -> tuple[str, int]:
    """Run ``setup`` then ``attack`` (which sets ``answer``) in a fresh Python; return the answer
    and the peak memory the attack added."""
    code = textwrap.dedent(setup) + textwrap.dedent("""
        import json, pathlib
        def _field(name):
            for line in pathlib.Path("/proc/self/status").read_text().splitlines():
                if line.startswith(name + ":"):
                    return int(line.split()[1]) * 1024
        pathlib.Path("/proc/self/clear_refs").write_text("5")
        _before = _field("VmRSS")
        answer = None
    """) + textwrap.dedent(attack) + textwrap.dedent("""
        print(json.dumps({"answer": str(answer), "peak": _field("VmHWM") - _before}))
    """)
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    return result["answer"], result["peak"]


def report(name: str, peak: int, seconds: float | None = None):
    print(f"\n[attack] {name}: peak +{peak / MB:.1f} MB" + (f", {seconds:.2f} s" if seconds is not None else ""))


# ---------------------------------------------------------------------------- in a fresh process


def test_a_674_kb_png_declaring_13000_by_13000(tmp_path):
    from tests.test_pictures import bomb_png

    bomb = bomb_png(13000, 13000)
    (tmp_path / "bomb.png").write_bytes(bomb)
    assert len(bomb) < 1_000_000
    answer, peak = measured("""
        from mnist_demo.pictures import open_image
        from mnist_demo.preprocess import ImageInputError, preprocess
    """, f"""
        try:
            preprocess(open_image({str(tmp_path / "bomb.png")!r}))
        except ImageInputError as e:
            answer = e
    """)
    report(f"PNG of {len(bomb) // 1024} kB declaring 13,000x13,000 RGBA", peak)
    assert answer == ("The picture is 13,000×13,000 pixels; the most this app reads is 16 megapixels "
                      "(4,000×4,000).")
    assert peak < 16 * MB


def test_the_largest_picture_read_stays_within_the_budget(tmp_path):
    from tests.test_pictures import bomb_png

    (tmp_path / "big.png").write_bytes(bomb_png(4000, 4000))  # 16 megapixels RGBA: the most that is read
    answer, peak = measured("""
        from mnist_demo.pictures import open_image
        from mnist_demo.preprocess import preprocess
    """, f"""
        answer = preprocess(open_image({str(tmp_path / "big.png")!r}))
    """)
    report("PNG of 4,000x4,000 RGBA (the largest read), decoded and prepared", peak)
    assert answer == "None"  # all transparent: nothing drawn
    assert peak < BUDGET


def test_eight_of_the_largest_pictures_at_once_stay_within_the_budget(tmp_path):
    """Eight visitors send the largest picture at once, as /classify (8 at a time) or the pad's
    read_digit (outside the queue) would run them: one is read at a time."""
    from tests.test_pictures import bomb_png

    (tmp_path / "big.png").write_bytes(bomb_png(4000, 4000))
    answer, peak = measured("""
        from concurrent.futures import ThreadPoolExecutor
        from mnist_demo.pictures import digit_from_picture
    """, f"""
        with ThreadPoolExecutor(8) as pool:
            answer = list(pool.map(digit_from_picture, [{str(tmp_path / "big.png")!r}] * 8))
    """)
    report("eight 4,000x4,000 RGBA PNGs at once", peak)
    assert answer == str([None] * 8)
    assert peak < BUDGET


def test_a_nested_safetensors_header():
    answer, peak = measured("""
        import struct
        from mnist_demo.weights import WeightsError, weights_from_bytes
        header = b"[" * 30_000 + b"]" * 30_000
        blob = struct.pack("<Q", len(header)) + header
    """, """
        try:
            weights_from_bytes(blob, source="your cnn weights")
        except WeightsError as e:
            answer = e
    """)
    report("safetensors header nested 30,000 deep", peak)
    assert answer == "your cnn weights: header is nested too deeply to be a safetensors header"


def test_an_idx_whose_dimensions_wrap_to_zero(tmp_path):
    import struct

    (tmp_path / "w-images-idx3-ubyte.gz").write_bytes(gzip.compress(struct.pack(">IIII", 2051, 2**22, 2**21, 2**21)))
    (tmp_path / "w-labels-idx1-ubyte.gz").write_bytes(gzip.compress(struct.pack(">II", 2049, 0)))
    answer, peak = measured("from mnist_demo.digit_files import DigitFileError, read_digit_files\n", f"""
        try:
            read_digit_files(sorted(pathlib.Path({str(tmp_path)!r}).iterdir()))
        except DigitFileError as e:
            answer = e
    """)
    report("IDX declaring 4,194,304x2,097,152x2,097,152 (2**64 bytes, 0 as int64)", peak)
    assert answer == "w-images-idx3-ubyte.gz: holds pictures of 2,097,152x2,097,152 pixels, not 28x28."


def test_many_small_gzip_idx_pairs_over_the_cap(tmp_path):
    import numpy as np

    from mnist_demo.collection import CAP
    from mnist_demo.data import idx_bytes

    images = gzip.compress(idx_bytes(np.zeros((CAP, 28, 28), np.uint8)), 9)
    labels = gzip.compress(idx_bytes(np.zeros(CAP, np.uint8)), 9)
    for k in range(25):
        (tmp_path / f"{k}-images-idx3-ubyte.gz").write_bytes(images)
        (tmp_path / f"{k}-labels-idx1-ubyte.gz").write_bytes(labels)
    total = sum(p.stat().st_size for p in tmp_path.iterdir())
    answer, peak = measured("from mnist_demo.digit_files import DigitFileError, read_digit_files\n", f"""
        try:
            read_digit_files(sorted(pathlib.Path({str(tmp_path)!r}).iterdir()))
        except DigitFileError as e:
            answer = e
    """)
    report(f"25 gzip IDX pairs of {CAP:,} digits each ({total // 1024} kB in all)", peak)
    assert answer == (f"These files hold {25 * CAP:,} digits together, more than a collection's {CAP:,}; "
                      "nothing was unpacked.")
    assert peak < 16 * MB


# ---------------------------------------------------------------------------- against the app


@pytest.fixture(scope="module")
def app():
    """`python app.py` as a Space runs it: (port, pid), and its memory when it started answering."""
    from tests.train_requests import controls

    # Two trainings at once, as on the free Space's 2 vCPUs, whatever this machine has (the flood's count).
    with launch("app.py", timeout=120, env={"MNIST_MAX_TRAININGS": "2"}) as (url, proc):
        # A server in its steady state: MNIST (220 MB as float32) is loaded by the first training
        # and kept for every later one; the attacks are measured from there.
        api_client(url).predict(*controls(which="linear", subset=1000, epochs=1), api_name="/train")
        START_RSS.append(status_bytes(proc.pid, "VmRSS"))
        yield int(url.rsplit(":", 1)[1].strip("/")), proc.pid


@pytest.mark.parametrize("chunked", [False, True], ids=["with Content-Length", "chunked"])
def test_a_150_mb_json_body(app, chunked):
    port, pid = app
    body = b"[" + b"0," * (75 * MB) + b"0]"  # 150 MB of numbers: +600 MB and 12 s when parsed
    reset_peak(pid)
    before = status_bytes(pid, "VmRSS")
    start = time.monotonic()
    if chunked:
        status, answer = post(port, "/gradio_api/component_server",
                              (body[i:i + MB] for i in range(0, len(body), MB)), chunked=True)
    else:
        status, answer = post(port, "/gradio_api/component_server", body)
    seconds = time.monotonic() - start
    peak = status_bytes(pid, "VmHWM") - before
    report(f"150 MB JSON body to component_server ({'chunked' if chunked else 'Content-Length'})", peak, seconds)
    assert status in (413, None)  # None: refused and closed while the client was still sending
    if status == 413:
        assert json.loads(answer)["detail"].startswith("The request is too large: this app accepts at most 16.1 MB")
    assert peak < 64 * MB
    urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10)  # still serving


@pytest.mark.parametrize("path", ["/gradio_api/run/classify", "/gradio_api/run/predict", "/gradio_api/api/classify"])
def test_the_rest_routes_do_not_skip_the_queue(app, path):
    port, _ = app
    status, answer = post(port, path, json.dumps({"data": [None], "fn_index": 0}).encode())
    assert status == 404 and b"join the queue" in answer, (status, answer[:200])


def test_classify_still_works_through_the_queue(app, tmp_path):
    from gradio_client import handle_file
    from PIL import Image

    Image.new("L", (64, 64)).save(tmp_path / "blank.png")
    client = api_client(f"http://127.0.0.1:{app[0]}/")
    with pytest.raises(Exception, match="blank"):
        client.predict(handle_file(str(tmp_path / "blank.png")), api_name="/classify")


def test_the_png_bomb_through_classify(app, tmp_path):
    from gradio_client import handle_file

    from tests.test_pictures import bomb_png

    port, pid = app
    (tmp_path / "bomb.png").write_bytes(bomb_png(13000, 13000))
    client = api_client(f"http://127.0.0.1:{port}/")
    reset_peak(pid)
    before = status_bytes(pid, "VmRSS")
    with pytest.raises(Exception, match="13,000×13,000 pixels"):
        client.predict(handle_file(str(tmp_path / "bomb.png")), api_name="/classify")
    peak = status_bytes(pid, "VmHWM") - before
    report("the 13,000x13,000 PNG through /classify", peak)
    assert peak < BUDGET


def test_memory_is_given_back_after_large_pictures():
    """4,000x3,000 RGBA pictures decoded and prepared in worker threads, three at once, twice, as
    Gradio runs handlers: glibc keeps the freed memory until give_back_memory (malloc_trim)
    returns it. (Three one after another kept 63 MB in most runs, but 27 MB in one gate run, under
    this test's 32 MB: which arena a new thread gets varies. Three at once, twice, kept 175 to 249
    MB in 19 runs, and after give_back_memory at most 31 % of what it had kept, under the 50 % bar.)"""
    code = textwrap.dedent("""
        import io, json, threading
        import numpy as np
        from PIL import Image
        from mnist_demo.memory import give_back_memory, rss_bytes
        from mnist_demo.pictures import open_image
        from mnist_demo.preprocess import preprocess
        a = np.zeros((3000, 4000, 4), np.uint8)
        a[1000:2000, 1800:2200, 3] = 255
        buf = io.BytesIO()
        Image.fromarray(a).save(buf, "PNG")
        data, a = buf.getvalue(), None
        start = rss_bytes()
        for _ in range(2):
            threads = [threading.Thread(target=lambda: preprocess(open_image(data))) for _ in range(3)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        kept = rss_bytes()
        give_back_memory()
        print(json.dumps([start, kept, rss_bytes()]))
    """)
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    start, kept, after = json.loads(out.stdout.strip().splitlines()[-1])
    print(f"\n[memory] start {start / MB:.0f} MB, after six pictures {kept / MB:.0f} MB, "
          f"after give_back_memory {after / MB:.0f} MB")
    assert kept - start > 32 * MB  # the pictures did cost memory that glibc kept
    assert after - start < (kept - start) / 2  # and most of it went back


FLOOD = 16 + 2 + 6


def test_a_flood_of_trainings_from_many_sessions_does_not_lock_anyone_out(app, tmp_path):
    """The queue is shared by everyone's events: long trainings, each from a session of its own,
    must leave room for a new visitor's /classify (and so its Keep). Trainings wait in a line of
    their own before the queue; past its cap they get a sentence at once. FLOOD is the line's cap
    (16) and the slots (2, as the app fixture sets) and 6 more: every one past those is refused (the last round's
    64 gave the same 2 running and 16 waiting; each session is a client of its own, 0.2 CPU-s)."""
    from concurrent.futures import ThreadPoolExecutor

    from gradio_client import handle_file
    from PIL import Image

    from tests.train_requests import controls

    url = f"http://127.0.0.1:{app[0]}/"
    picture = tmp_path / "one.png"
    drawn = Image.new("L", (300, 300), 255)  # a black "1" on white
    drawn.paste(0, (140, 40, 160, 260))
    drawn.save(picture)
    visitor = api_client(url)
    began = time.perf_counter()
    assert visitor.predict(handle_file(str(picture)), api_name="/classify")["cnn"]["label"] == 1
    normal = time.perf_counter() - began

    def attack(k):
        client = api_client(url)  # a session of its own
        return client.submit(*controls(which="cnn", epochs=20, subset=50_000, seed=k), api_name="/train")

    with ThreadPoolExecutor(8) as pool:
        jobs = list(pool.map(attack, range(FLOOD)))
    refused = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and len(refused) + 16 + 2 < FLOOD:
        refused = [job for job in jobs if job.done() and "trainings are already waiting" in str(job.exception())]
        time.sleep(0.5)
    try:
        began = time.perf_counter()
        answer = visitor.predict(handle_file(str(picture)), api_name="/classify")
        busy = time.perf_counter() - began
    finally:
        for job in jobs:
            job.cancel()
    print(f"\n[attack] {FLOOD} trainings from {FLOOD} sessions: {len(refused)} refused with a sentence; /classify "
          f"{normal * 1000:.0f} ms before, {busy * 1000:.0f} ms during")
    assert answer["cnn"]["label"] == 1  # answered, not "Queue is full"
    assert len(refused) >= FLOOD - 16 - 2  # the line's cap (16) and the slots (2)
    assert busy < 5.0


def test_no_session_files_remain_after_sessions_end_and_after_a_restart(tmp_path):
    """Every kind of session leaves nothing: one that exported, one that trained, and what a
    process killed with -9 left is gone when the app starts again."""
    from mnist_demo import downloads

    code = textwrap.dedent("""
        import os, pathlib, signal
        from mnist_demo.session import Session
        export_only, trained = Session(), Session()
        (pathlib.Path(export_only.new_downloads("digits")) / "x.gz").write_bytes(b"x")
        (pathlib.Path(trained.new_downloads("weights")) / "cnn.safetensors").write_bytes(b"w")
        os.kill(os.getpid(), signal.SIGKILL)  # no cleanup of any kind runs
    """)
    killed = subprocess.Popen([sys.executable, "-c", code], cwd=REPO)
    killed.wait(120)
    left = downloads.ROOT / str(killed.pid)
    assert any(p.is_file() for p in left.rglob("*"))  # the killed run left its sessions' files
    restart = "from mnist_demo import downloads; downloads.reset()"  # what app.py does first
    app = (REPO / "app.py").read_text()
    assert -1 < app.index("downloads.reset()") < app.index("demo = build_demo(")
    subprocess.run([sys.executable, "-c", restart], cwd=REPO, timeout=120, check=True)
    assert not left.exists()
    from mnist_demo.session import Session, close_session
    for kind in ("digits", "weights"):  # and a session that ends removes its own
        session = Session()
        folder = Path(session.new_downloads(kind))
        close_session(session)
        assert not folder.exists() and not folder.parent.exists()


def test_memory_at_the_end_is_near_where_it_started(app):
    """After every attack above (this test runs last), the app gives its memory back."""
    now = status_bytes(app[1], "VmRSS")
    print(f"\n[attack] app RSS: {START_RSS[0] / MB:.0f} MB at start, {now / MB:.0f} MB after the attacks")
    assert now - START_RSS[0] < 200 * MB



# ---------------------------------------------------------------------------- one hostile client, round 2
# (issue 27) Each at a small scale, in this process: the rule exists, refuses with a sentence, and
# another client still gets through. The floods at full size are benchmarks/attacks.py's.


class Clock:
    def __init__(self, t: float = 1_700_000_000.0):
        self.t = t

    def __call__(self) -> float:
        return self.t


def a_request(client="10.0.0.5", **headers):
    from types import SimpleNamespace

    return SimpleNamespace(headers={"host": "127.0.0.1:7860", **headers}, client=SimpleNamespace(host=client),
                           query_params={}, url=SimpleNamespace(scheme="http"))


def class_page():
    from mnist_demo.classes.tab import ClassPage
    from tests.conftest import CLASS_PAGE

    return ClassPage(**{n: n for n in CLASS_PAGE}, choices=["choice-linear", "choice-cnn"])


SHIPPED_PAGE = {"linear": {}, "cnn": {}}


def test_train_on_our_class_takes_a_place_in_the_trainings_line_one_per_tab(tmp_path):
    """Issue 27 #2: 300 presses from one tab filled the queue. Now the validator admits one per
    tab, within the line's cap, shared with the Train tab's trainings."""
    from mnist_demo.classes.tab import admit_class_training, class_training_turn
    from mnist_demo.session import WAITING, Session
    from mnist_demo.settings import from_env
    from mnist_demo.ui_train import admit_training

    settings = from_env({"MNIST_DATA_DIR": str(tmp_path), "MNIST_MAX_WAITING_TRAININGS": "3"})
    teacher, others = Session(), [Session() for _ in range(3)]
    try:
        assert admit_class_training(settings, teacher, None, None)[2]["is_valid"]
        refused = [admit_class_training(settings, teacher, None, None)[2] for _ in range(300)]
        assert not any(r["is_valid"] for r in refused)
        assert refused[0]["message"] == "A training is already waiting or running in this tab: stop it first."
        # The Train tab's Start in the same tab is in the same line: refused too.
        assert not admit_training(settings, teacher, "both", "linear")[1]["is_valid"]
        assert len(WAITING) == 1
        for s in others[:2]:
            assert admit_class_training(settings, s, None, None)[2]["is_valid"]
        full = admit_class_training(settings, others[2], None, None)[2]
        assert not full["is_valid"] and "trainings are already waiting for this server" in full["message"]
        # Its turn: it leaves the line, and the tab's one training slot is held while it runs.
        turn = class_training_turn(None, settings, {}, teacher, None)
        with pytest.raises(Exception, match="This class has ended"):  # this tab teaches no class
            next(turn)
        assert not teacher.running and len(WAITING) == 2
        # With its classroom (as wired), only a page that teaches a live class takes a place.
        from mnist_demo.classes.store import Classroom

        with Classroom(tmp_path / "db") as room:
            stranger = admit_class_training(settings, Session(), None, None, classroom=room, request=a_request())[2]
            assert not stranger["is_valid"] and "This class has ended" in stranger["message"]
            assert len(WAITING) == 2
    finally:
        for s in [teacher, *others]:
            WAITING.leave(s)


def test_the_class_training_event_has_the_admission_rule_before_the_queue(tmp_path):
    from mnist_demo.settings import from_env
    from mnist_demo.ui import build_demo

    demo = build_demo(settings=from_env({"MNIST_DATA_DIR": str(tmp_path)}))
    trainings = [fn for fn in demo.fns.values() if fn.concurrency_id == "train"]
    assert {fn.name for fn in trainings} == {"start_training", "train"}
    assert all(fn.validator is not None for fn in trainings)


def test_starting_a_class_at_the_cap_says_when_to_try_again_and_another_client_still_can(tmp_path):
    """Issue 27 #3: 500 starts from one tab took every class, and teachers got a bare "Error"."""
    import gradio as gr

    from mnist_demo.classes.store import ClassLimits, Classroom
    from mnist_demo.classes.teacher import end_class, start_class
    from mnist_demo.session import Session

    page, clock = class_page(), Clock()
    with Classroom(tmp_path, ClassLimits(classes_per_client_per_hour=3, empty_hours=4), clock=clock) as room:
        sessions = [Session() for _ in range(3)]
        for s in sessions:
            start_class(room, page, False, s, a_request("203.0.113.7"))
        for _ in range(20):
            with pytest.raises(gr.Error, match=r"Your network has started 3 classes in the last hour, as many as "
                                               r"one may; try again in 60 minutes, or end a class"):
                start_class(room, page, False, Session(), a_request("203.0.113.7"))
        start_class(room, page, False, Session(), a_request("198.51.100.1"))  # another client
        end_class(room, page, sessions[0])  # an ended class gives its slot back
        start_class(room, page, False, Session(), a_request("203.0.113.7"))
        assert len(room.classes()) == 4
        clock.t += 4 * 3600 + 1  # nobody ever joined them: gone in hours, not days
        assert room.expire() == 4 and room.classes() == []
        start_class(room, page, False, Session(), a_request("203.0.113.7"))


def test_a_class_used_is_kept_past_the_empty_class_hours(tmp_path):
    from mnist_demo.classes.store import ClassLimits, Classroom

    clock = Clock()
    with Classroom(tmp_path, ClassLimits(empty_hours=1), clock=clock) as room:
        used, empty = room.create_class().code, room.create_class().code
        room.join(used, "10.0.0.1")
        clock.t += 3601
        room.expire()
        assert room.summary(used) is not None and room.summary(empty) is None


def test_a_spoofed_forwarded_address_is_ignored_without_trusted_proxies():
    from mnist_demo.classes.addresses import client_of

    spoofed = a_request("192.0.2.10", **{"x-forwarded-for": "10.9.9.9"})
    assert client_of(spoofed) == client_of(spoofed, 0) == "192.0.2.10"
    # Behind one proxy (a Space's), the entry it appended, the rightmost: not what the client wrote.
    behind = a_request("10.0.0.2", **{"x-forwarded-for": "10.9.9.9, 198.51.100.4"})
    assert client_of(behind, 1) == "198.51.100.4" and client_of(behind, 2) == "10.9.9.9"
    assert client_of(a_request("10.0.0.2"), 1) == "10.0.0.2"  # no header: the connection's
    # IPv6: a /64 is one device's or one network's, and any address in it is theirs to use.
    assert client_of(a_request("2001:db8:1:2:aaaa::1")) == client_of(a_request("2001:db8:1:2:bbbb::9")) == \
        "2001:db8:1:2::/64"
    assert client_of(a_request("2001:db8:1:3::1")) != client_of(a_request("2001:db8:1:2::1"))
    assert client_of(a_request("::ffff:192.0.2.1")) == "192.0.2.1"


def test_a_guesser_spoofing_a_classmates_address_does_not_lock_them_out(tmp_path):
    """Issue 27 #6: in LAN mode a client locked out a chosen classmate by sending their address."""
    from mnist_demo.classes.store import Classroom
    from mnist_demo.classes.student import join
    from mnist_demo.session import ClassSeat

    with Classroom(tmp_path) as room:
        code = room.create_class().code
        for _ in range(room.limits.join_failures_per_minute + 5):
            join(room, ClassSeat(), "ACDEFH" if code != "ACDEFH" else "ACDEFJ",
                 a_request("192.0.2.66", **{"x-forwarded-for": "192.0.2.10"}))
        assert "Too many wrong codes" in join(room, ClassSeat(), code, a_request("192.0.2.66"))
        classmate = ClassSeat()
        assert join(room, classmate, code, a_request("192.0.2.10")) == "" and classmate.code == code


def test_a_class_of_100_behind_one_router_joins_and_one_address_cannot_add_without_end(tmp_path):
    """Issue 27 #7: 100 made-up students from one client filled a class. A whole class behind one
    router joins, typos included; past the minute's new students, a sentence, and the teacher sees
    how many joined from one address."""
    from mnist_demo.classes.store import ClassLimits, Classroom
    from mnist_demo.classes.teacher import teacher_list

    clock = Clock()
    with Classroom(tmp_path, ClassLimits(max_students=500), clock=clock) as room:
        code = room.create_class().code
        wrong = "ACDEFH" if code != "ACDEFH" else "ACDEFJ"
        for k in range(100):
            if k % 3 == 0:  # a third of the room mistypes once
                with pytest.raises(Exception, match="No class has the code"):
                    room.join(wrong, "203.0.113.1")
            room.join(code, "203.0.113.1")
        for _ in range(room.limits.new_students_per_minute - 100):
            room.join(code, "203.0.113.1")
        with pytest.raises(Exception, match=r"students joined from your network in the last minute, as many as "
                                            r"may; try again in 1 minute\."):
            room.join(code, "203.0.113.1")
        room.join(code, "198.51.100.2")  # another network
        assert f"up to {room.limits.new_students_per_minute} joined from one address" in teacher_list(room, code)
        clock.t += 61
        room.join(code, "203.0.113.1")


def test_leaving_and_joining_again_gives_the_device_its_id_and_its_keep_bucket_back(tmp_path):
    """Issue 27 #7: leave and rejoin gave a fresh keep bucket, 78 keeps a second from one tab."""
    from mnist_demo.classes.store import ClassError, ClassLimits, Classroom
    from mnist_demo.classes.student import join_typed, leave_class
    from mnist_demo.session import Session

    page, clock = class_page(), Clock()
    with Classroom(tmp_path, ClassLimits(keeps_per_second=4, keep_burst=8), clock=clock) as room:
        code = room.create_class().code
        tab = Session()
        join_typed(room, page, SHIPPED_PAGE, tab, code, a_request())
        student, kept = tab.seat.student, 0
        for round_ in range(20):  # keep as fast as allowed, leave, join again: all in the same second
            for i in range(10):
                try:
                    room.add_drawing(code, tab.seat.student, round_ * 100 + i, 3, 3, 3, bytes(784))
                    kept += 1
                except ClassError:
                    pass
            leave_class(room, page, SHIPPED_PAGE, tab)
            join_typed(room, page, SHIPPED_PAGE, tab, code, a_request())
            assert tab.seat.student == student
        assert kept == 8  # the burst, once
        assert room.summary(code).students == 1


def test_removed_drawings_leave_no_pixels_in_the_database_files(tmp_path):
    """Issue 27 #8: a removed drawing's pixels stayed in the WAL until a later checkpoint."""
    from mnist_demo.classes.store import Classroom

    marker = bytes([7, 200, 13, 99]) * 196  # 784 bytes found nowhere else
    with Classroom(tmp_path) as room:
        code = room.create_class().code
        a, b = room.join(code, "x"), room.join(code, "y")
        room.add_drawing(code, a, 1, 3, 3, 3, marker)
        room.add_drawing(code, b, 2, 3, 3, 3, marker[::-1])
        room.add_drawing(code, b, 3, 3, 3, 3, bytes(784))

        def found(pixels):
            return [p.name for p in tmp_path.iterdir() if p.is_file() and pixels[:64] in p.read_bytes()]

        assert found(marker) and found(marker[::-1])  # there before
        room.remove_drawing(code, 1)
        room.remove_student(code, b)
        assert found(marker) == [] and found(marker[::-1]) == []
        assert room.count(code) == 0


def test_ending_a_class_deletes_its_exports(tmp_path, monkeypatch):
    from mnist_demo import downloads
    from mnist_demo.classes.store import Classroom
    from mnist_demo.classes.teacher import end_class, export_class, start_class
    from mnist_demo.session import Session

    monkeypatch.setattr(downloads, "ROOT", tmp_path / "downloads")
    page = class_page()
    with Classroom(tmp_path / "db") as room:
        teacher = Session()
        start_class(room, page, False, teacher, a_request())
        code = teacher.seat.teaching
        room.add_drawing(code, room.join(code, "x"), 1, 3, 3, 3, bytes(784))
        export_class(room, teacher)
        files = [str(f) for f in (tmp_path / "downloads").rglob(f"class-{code}-*")]
        assert len(files) == 3  # the IDX pair and the zip of PNGs
        served = tmp_path / "gradio-cache" / "abc123"
        served.mkdir(parents=True)
        (served / Path(files[0]).name).write_bytes(b"a copy Gradio served")
        page.exported = type("Exported", (), {"GRADIO_CACHE": str(tmp_path / "gradio-cache")})()
        assert all(Path(f).exists() for f in files)
        end_class(room, page, teacher)
        assert not any(Path(f).exists() for f in files) and not any(served.iterdir())


def test_no_bare_error_on_any_input_tried(tmp_path):
    """Issue 27 #9 and #10, through Gradio itself (its queue, its error handling with
    show_error=False): each refusal is a sentence, and no update shows a memory address."""
    import json as json_

    from benchmarks.harness.events import call, fn_index, new_session, serve
    from mnist_demo.classes.store import ClassLimits, Classroom
    from mnist_demo.settings import from_env
    from mnist_demo.ui import build_demo

    settings = from_env({"MNIST_DATA_DIR": str(tmp_path)})
    with Classroom(tmp_path, ClassLimits(max_classes=1)) as room:
        demo = build_demo(settings=settings, classroom=room)
        with serve(demo, settings) as url:
            def event(name, data, session, event_data=None):
                return call(url, fn_index(demo, name), data, session, event_data)

            teacher, other, student = new_session(), new_session(), new_session()
            started = event("start_class", [None], teacher)
            assert started["success"]
            shown = json_.dumps(started["output"])
            assert "functools.partial" not in shown and " at 0x" not in shown
            code = room.classes()[0].code
            errors = {
                "start at the cap": event("start_class", [None], other),
                "remove id -1": event("remove_one", [None, None], teacher, {"id": -1}),
                "remove id 2**53": event("remove_one", [None, None], teacher, {"id": 2**53}),
                "remove id 1e300": event("remove_one", [None, None], teacher, {"id": 1e300}),
                "classify a URL": event("classify", [{"path": "http://192.0.2.1/x.png",
                                                      "meta": {"_type": "gradio.FileData"}}], new_session()),
                "import a URL": event("import_files", [[{"path": "http://192.0.2.1/x-images-idx3-ubyte.gz",
                                                        "meta": {"_type": "gradio.FileData"}}], None], new_session()),
                "classify a text": event("classify", ["/etc/passwd"], new_session()),
                "classify a number": event("classify", [7], new_session()),
                "import texts": event("import_files", [["a.gz", "b.gz"], None], new_session()),
            }
            assert event("join_typed", [None, None, code], student)["success"]
            assert event("end_class", [None, None], teacher)["success"]
            left = event("leave_class", [None, None], student)
            assert left["success"] or left["error"], left
            for what, answer in errors.items():
                assert not answer["success"] and isinstance(answer["error"], str) and len(answer["error"]) > 20, \
                    (what, answer)
            assert "as many classes as it can hold" in errors["start at the cap"]["error"]
            assert "does not fetch files from addresses" in errors["classify a URL"]["error"]
            assert "does not fetch files from addresses" in errors["import a URL"]["error"]
            for what in ("classify a text", "classify a number", "import texts"):
                assert "is not a file" in errors[what]["error"], (what, errors[what])


def test_an_upload_flood_is_refused_once_the_upload_folder_holds_its_cap(tmp_path):
    """Issue 27 #4: /gradio_api/upload took 100 x 10 MB with no session. Here at a small scale:
    a 3 MB cap and 1 MB uploads; benchmarks/attacks.py sends the 100 x 10 MB."""
    import gradio as gr
    from gradio.utils import get_upload_folder

    from benchmarks.harness.launcher import free_port
    from mnist_demo.limits import UPLOADS_FULL, UploadBudget, app_kwargs

    folder = tmp_path / "uploads"
    folder.mkdir()
    budget = UploadBudget(cap=3 * MB, folder=folder)
    budget_real = UploadBudget(cap=3 * MB)
    assert Path(budget_real.folder) == Path(get_upload_folder())  # Gradio's own folder, by default
    with gr.Blocks() as demo:
        gr.File()
    port = free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True,
                app_kwargs=app_kwargs(uploads=budget))
    try:
        answers = []
        for k in range(10):
            body = (b"--XyZ\r\nContent-Disposition: form-data; name=\"files\"; filename=\"f%d.bin\"\r\n"
                    b"Content-Type: application/octet-stream\r\n\r\n" % k) + bytes(MB) + b"\r\n--XyZ--\r\n"
            status, answer = post(port, "/gradio_api/upload", body,
                                  {"Content-Type": "multipart/form-data; boundary=XyZ"})
            answers.append((status, answer))
            if status == 200:  # as if Gradio had written it to the measured folder
                (folder / f"f{k}.bin").write_bytes(bytes(MB))
    finally:
        demo.close()
    kept = [a for s, a in answers if s == 200]
    refused = [a for s, a in answers if s in (503, None)]  # None: refused and closed while still sending
    assert 1 <= len(kept) <= 3 and len(refused) == 10 - len(kept)
    assert all(json.loads(a)["detail"] == UPLOADS_FULL for a in refused if a)
    for path in kept:  # what Gradio really wrote
        Path(json.loads(path)[0]).unlink()
    assert sum(f.stat().st_size for f in folder.iterdir()) <= 3 * MB


def test_large_bodies_are_handled_a_few_at_a_time():
    """Issue 27 #5: 48 concurrent 13 MB bodies peaked at +1.7 GB. The middleware lets LARGE_AT_ONCE
    large bodies in at once; the others wait unread. (The 48 x 13 MB: benchmarks/attacks.py.)"""
    import asyncio
    import concurrent.futures

    from mnist_demo.limits import BodyLimit

    at_once = peak = 0

    async def app(scope, receive, send):
        nonlocal at_once, peak
        at_once += 1
        peak = max(peak, at_once)
        while (await receive()).get("more_body"):
            pass
        await asyncio.sleep(0.01)
        at_once -= 1
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    limit = BodyLimit(app, trim_after=None, large_at_once=2)

    async def request(size):
        scope = {"type": "http", "method": "POST", "path": "/gradio_api/component_server",
                 "headers": [(b"content-length", str(size).encode())]}
        sent = []

        async def receive():
            return {"type": "http.request", "body": bytes(size), "more_body": False}

        async def send(message):
            sent.append(message)
        await limit(scope, receive, send)
        return sent[0]["status"]

    async def flood():
        large = [request(13 * MB) for _ in range(12)]
        small = [request(1000) for _ in range(12)]
        return await asyncio.gather(*large, *small)

    def run(coroutine):  # in a thread of its own: this worker's Playwright may hold an event loop here
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            return pool.submit(asyncio.run, coroutine).result()

    assert run(flood()) == [200] * 24
    assert peak <= 2 + 12  # two large at most, beside the small ones
    large_peak = peak
    peak = 0

    async def only_large():
        return await asyncio.gather(*[request(13 * MB) for _ in range(12)])

    limit = BodyLimit(app, trim_after=None, large_at_once=2)  # a server has one event loop: a new one here
    assert run(only_large()) == [200] * 12 and peak == 2, (peak, large_peak)


def test_after_a_flood_that_drops_their_sessions_a_students_keep_and_a_teachers_action_work(tmp_path):
    """Issue 27 #1: Gradio keeps a bounded number of sessions (ui.SESSIONS; 20 here), so a flood of
    made-up sessions drops real visitors' too. Nothing rests on them: the keep carries its seat,
    every class event the page's seat echo, and the teacher's standing is the teacher link."""
    import base64
    import json as json_

    from benchmarks.harness.events import call, fn_index, new_session, serve
    from mnist_demo.settings import from_env
    from mnist_demo.ui import LAUNCH_OPTIONS, SESSIONS, build_demo

    assert LAUNCH_OPTIONS["state_session_capacity"] == SESSIONS <= 1000
    settings = from_env({"MNIST_DATA_DIR": str(tmp_path)})
    demo = build_demo(settings=settings)
    pad = next(b._id for b in demo.blocks.values() if getattr(b, "elem_id", None) == "pad")
    echo_id = next(b._id for b in demo.blocks.values() if getattr(b, "elem_id", None) == "class-seat-echo")
    with serve(demo, settings, state_session_capacity=20) as url:
        def event(name, data, session, event_data=None):
            return call(url, fn_index(demo, name), data, session, event_data)

        def echo_of(answer, name):
            outputs = demo.fns[fn_index(demo, name)].outputs
            return answer["output"][[o._id for o in outputs].index(echo_id)]

        teacher, student = new_session(), new_session()
        started = event("start_class", [None], teacher)
        teacher_echo = echo_of(started, "start_class")
        code = next(iter(demo.state_holder[teacher].state_data.values())).seat.teaching
        joined = event("join_typed", [None, None, code], student)
        student_echo = echo_of(joined, "join_typed")
        seat = json_.loads(student_echo)
        assert seat["code"] == code and seat["student"]

        port = int(url.rsplit(":", 1)[1].strip("/"))
        for _ in range(30):  # fresh session hashes, as a flood sends them: Gradio makes a session for each
            post(port, "/gradio_api/component_server", json_.dumps(
                {"session_hash": new_session(), "component_id": pad, "fn_name": "read_digit", "data": None}).encode())
        assert teacher not in demo.state_holder and student not in demo.state_holder  # dropped

        entry = {"kind": "keep", "code": code, "student": seat["student"], "id": 12345, "label": 3,
                 "pixels": base64.b64encode(bytes(784)).decode(), "said": {"linear": 3, "cnn": 3}}
        body = json_.dumps({"session_hash": student, "component_id": pad, "fn_name": "send_to_class",
                            "data": entry}).encode()
        status, answer = post(port, "/gradio_api/component_server", body)
        assert status == 200 and json_.loads(answer)["result"] == "stored", answer
        # The teacher's action from a session the server no longer has: the echo's teacher link.
        locked = event("toggle_lock", [None, teacher_echo], teacher)
        assert locked["success"], locked
        assert json_.dumps(locked["output"]).count("Unlock joining") == 1
        # And the student's clock: still in the class, not told it ended.
        ticked = event("check_class_model", [None, student_echo, "shipped", "shipped"], student)
        assert ticked["success"] and "has ended" not in json_.dumps(ticked["output"])
        assert next(iter(demo.state_holder[student].state_data.values())).seat.code == code


def test_a_reloaded_page_joining_a_class_it_left_gets_its_id_back(tmp_path):
    """The ids a browser had in classes it left come back with the page's opening (class_seat.js
    keeps Python's former prop in localStorage and sends it as "left")."""
    import gradio as gr

    from mnist_demo.classes.store import Classroom
    from mnist_demo.classes.student import join_typed, leave_class
    from mnist_demo.classes.tab import open_page
    from mnist_demo.session import Session

    page = class_page()
    with Classroom(tmp_path) as room:
        code = room.create_class().code
        tab = Session()
        join_typed(room, page, SHIPPED_PAGE, tab, code, a_request())
        student = tab.seat.student
        out = leave_class(room, page, SHIPPED_PAGE, tab)
        former = out["stored"].constructor_args["former"]
        assert former == {code: student}
        reloaded = Session()  # a new session: the server kept nothing of the page
        open_page(room, page, SHIPPED_PAGE, False, reloaded,
                  gr.EventData(None, {"params": {}, "stored": None, "left": former}), a_request())
        join_typed(room, page, SHIPPED_PAGE, reloaded, code, a_request())
        assert reloaded.seat.student == student and room.summary(code).students == 1


def session_bytes(state, app_blocks: dict) -> int:
    """Roughly what a Gradio session holds of outputs: its config's values, and the HTML blocks an
    event rebuilt for it alone (the app's own blocks, ``app_blocks``, every session shares: the
    page's scripts and setup are held once, however many sessions there are)."""
    import gradio as gr

    from mnist_demo.limits import _size

    total = sum(_size(c.get("props", {}).get(k), 10**9) for c in state.config_values.values()
                if isinstance(c, dict) for k in ("value", "added", "models", "trained"))
    return total + sum(_size([b.value, b.props], 10**9) for k, b in state.blocks_config.blocks.items()
                       if isinstance(b, gr.HTML) and b is not app_blocks.get(k))


def test_an_import_gallery_is_not_kept_with_every_idle_session(tmp_path, monkeypatch):
    """Issue 27 #1: an import kept 6.6 MB with its session (the gallery and the digits sent to the
    page), so 300 sessions importing a 20 kB pair kept +1.96 GB. Past the sessions used last, and
    in those too once idle (limits.idle_sessions), such outputs are dropped (limits.forget_large_outputs,
    every few seconds in the app), and the digits themselves are held packed (limits.pack_idle_digits)
    until the session's next event."""
    import numpy as np

    from benchmarks.harness.events import call, fn_index, new_session, serve
    from mnist_demo import limits
    from mnist_demo.collection import CAP, Digits
    from mnist_demo.digit_files import write_idx_pair
    from mnist_demo.limits import EMPTIED, forget_large_outputs, idle_sessions, pack_idle_digits
    from mnist_demo.settings import from_env
    from mnist_demo.ui import build_demo

    monkeypatch.setattr(limits, "IDLE", 3600.0)  # the app's sweep leaves the last used alone, however slow this is

    pixels = np.zeros((CAP, 784), np.uint8)
    pixels[:, 300:320] = np.arange(CAP)[:, None] % 251  # all different, and tiny as gzip
    pair = write_idx_pair(Digits(pixels, np.arange(CAP) % 10, np.arange(CAP)), tmp_path, "pair")
    assert sum(p.stat().st_size for p in pair) < 100_000
    import threading

    settings = from_env({"MNIST_DATA_DIR": str(tmp_path)})
    demo = build_demo(settings=settings)
    assert any(t.name == "keep-sessions-small" for t in threading.enumerate())  # the app's sweep
    with serve(demo, settings) as url:
        port = int(url.rsplit(":", 1)[1].strip("/"))
        sessions = [new_session() for _ in range(3)]
        for session in sessions:
            body = b"".join(b"--XyZ\r\nContent-Disposition: form-data; name=\"files\"; filename=\"%s\"\r\n"
                            b"Content-Type: application/gzip\r\n\r\n" % p.name.encode() + p.read_bytes() + b"\r\n"
                            for p in pair) + b"--XyZ--\r\n"
            status, paths = post(port, "/gradio_api/upload", body,
                                 {"Content-Type": "multipart/form-data; boundary=XyZ"})
            assert status == 200
            files = [{"path": p, "meta": {"_type": "gradio.FileData"}, "orig_name": Path(p).name}
                     for p in json.loads(paths)]
            answer = call(url, fn_index(demo, "import_files"), [files, None], session)
            assert answer["success"] and f"Imported {CAP:,} digits" in json.dumps(answer["output"])
        held = [session_bytes(demo.state_holder.session_data[s], demo.default_config.blocks) for s in sessions]
        assert min(held) > 2 * MB  # what Gradio keeps with each
        copies = [dict(demo.state_holder.session_data[s].config_values) for s in sessions]
        assert forget_large_outputs(idle_sessions(demo.state_holder, keep=1), demo.blocks) > 0
        for s, before in zip(sessions[:2], copies[:2], strict=True):  # emptied, every key still there
            assert demo.state_holder.session_data[s].config_values.keys() == before.keys()
            assert all(v is EMPTIED for v in demo.state_holder.session_data[s].config_values.values())
        after = [session_bytes(demo.state_holder.session_data[s], demo.default_config.blocks) for s in sessions]
        print(f"\n[attack] an import of {CAP:,} digits: {held[0] / MB:.1f} MB kept with its session; "
              f"{after[0] / MB:.2f} MB once it is not among the last used")
        assert max(after[:2]) < 64 * 1024 and after[2] == held[2]  # the last used keeps its own
        # two sessions' digits, packed
        assert pack_idle_digits(idle_sessions(demo.state_holder, keep=1)) > 2 * CAP * 784 * 0.9
        assert pack_idle_digits(idle_sessions(demo.state_holder, keep=1)) == 0  # once
        # Once idle, the last used are shrunk too: a crowd that has stopped holds only what it must.
        assert forget_large_outputs(idle_sessions(demo.state_holder, idle=0), demo.blocks) > 0
        assert session_bytes(demo.state_holder.session_data[sessions[2]], demo.default_config.blocks) < 64 * 1024
        assert pack_idle_digits(idle_sessions(demo.state_holder, idle=0)) > CAP * 784 * 0.9
        # The page still works for those sessions: another import answers as before.
        again = call(url, fn_index(demo, "import_files"), [files, None], sessions[0])
        assert again["success"] and "already kept" in json.dumps(again["output"])
