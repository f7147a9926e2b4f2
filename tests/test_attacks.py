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

from benchmarks.harness.launcher import launch
from tests.test_limits import post

pytestmark = [pytest.mark.slow, pytest.mark.long, pytest.mark.xdist_group("app"),
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
    from gradio_client import Client

    from tests.train_requests import controls

    with launch("app.py", timeout=120) as (url, proc):
        # A server in its steady state: MNIST (220 MB as float32) is loaded by the first training
        # and kept for every later one; the attacks are measured from there.
        Client(url, verbose=False).predict(*controls(which="linear", subset=1000, epochs=1), api_name="/train")
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
    from gradio_client import Client, handle_file
    from PIL import Image

    Image.new("L", (64, 64)).save(tmp_path / "blank.png")
    client = Client(f"http://127.0.0.1:{app[0]}/", verbose=False)
    with pytest.raises(Exception, match="blank"):
        client.predict(handle_file(str(tmp_path / "blank.png")), api_name="/classify")


def test_the_png_bomb_through_classify(app, tmp_path):
    from gradio_client import Client, handle_file

    from tests.test_pictures import bomb_png

    port, pid = app
    (tmp_path / "bomb.png").write_bytes(bomb_png(13000, 13000))
    client = Client(f"http://127.0.0.1:{port}/", verbose=False)
    reset_peak(pid)
    before = status_bytes(pid, "VmRSS")
    with pytest.raises(Exception, match="13,000×13,000 pixels"):
        client.predict(handle_file(str(tmp_path / "bomb.png")), api_name="/classify")
    peak = status_bytes(pid, "VmHWM") - before
    report("the 13,000x13,000 PNG through /classify", peak)
    assert peak < BUDGET


def test_memory_is_given_back_after_large_pictures():
    """Three 4,000x3,000 RGBA pictures decoded and prepared in worker threads, as Gradio runs
    handlers: glibc keeps the freed memory until give_back_memory (malloc_trim) returns it."""
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
        for _ in range(3):
            t = threading.Thread(target=lambda: preprocess(open_image(data)))
            t.start()
            t.join()
        kept = rss_bytes()
        give_back_memory()
        print(json.dumps([start, kept, rss_bytes()]))
    """)
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    start, kept, after = json.loads(out.stdout.strip().splitlines()[-1])
    print(f"\n[memory] start {start / MB:.0f} MB, after three pictures {kept / MB:.0f} MB, "
          f"after give_back_memory {after / MB:.0f} MB")
    assert kept - start > 32 * MB  # the pictures did cost memory that glibc kept
    assert after - start < (kept - start) / 2  # and most of it went back


def test_64_trainings_from_64_sessions_do_not_lock_anyone_out(app, tmp_path):
    """The queue is shared by everyone's events: 64 long trainings, each from a session of its
    own, must leave room for a new visitor's /classify (and so its Keep). Trainings wait in a
    line of their own before the queue; past its cap they get a sentence at once."""
    from concurrent.futures import ThreadPoolExecutor

    from gradio_client import Client, handle_file
    from PIL import Image

    from tests.train_requests import controls

    url = f"http://127.0.0.1:{app[0]}/"
    picture = tmp_path / "one.png"
    drawn = Image.new("L", (300, 300), 255)  # a black "1" on white
    drawn.paste(0, (140, 40, 160, 260))
    drawn.save(picture)
    visitor = Client(url, verbose=False)
    began = time.perf_counter()
    assert visitor.predict(handle_file(str(picture)), api_name="/classify")["cnn"]["label"] == 1
    normal = time.perf_counter() - began

    def attack(k):
        client = Client(url, verbose=False)  # a session of its own
        return client.submit(*controls(which="cnn", epochs=20, subset=50_000, seed=k), api_name="/train")

    with ThreadPoolExecutor(8) as pool:
        jobs = list(pool.map(attack, range(64)))
    refused = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and len(refused) + 16 + 2 < 64:
        refused = [job for job in jobs if job.done() and "trainings are already waiting" in str(job.exception())]
        time.sleep(0.5)
    try:
        began = time.perf_counter()
        answer = visitor.predict(handle_file(str(picture)), api_name="/classify")
        busy = time.perf_counter() - began
    finally:
        for job in jobs:
            job.cancel()
    print(f"\n[attack] 64 trainings from 64 sessions: {len(refused)} refused with a sentence; /classify "
          f"{normal * 1000:.0f} ms before, {busy * 1000:.0f} ms during")
    assert answer["cnn"]["label"] == 1  # answered, not "Queue is full"
    assert len(refused) >= 64 - 16 - 2  # the line's cap (16) and the slots (one per CPU)
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

