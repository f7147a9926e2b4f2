"""Issue 27's floods at full size, each against the app as served (its own process, a fresh data
folder and upload folder) and against a baseline served in the same run without the rule that
holds it (Gradio's defaults): the figure beside its baseline's.

    python -m benchmarks.attacks                    # every attack (minutes, on 2 CPUs)
    python -m benchmarks.attacks --only sessions    # one: sessions, imports, uploads, bodies, starts, trainings

- sessions: fresh session hashes each calling the pad's server function (no event stream, so the
  session never ends): the server's added memory (RSS), at ui.SESSIONS with the idle sessions' config
  copies emptied (limits.keep_sessions_small) against Gradio's 10,000 keeping theirs;
- imports: sessions each importing a digit pair (2,000 of MNIST's validation digits): the server's
  added memory, with limits.keep_sessions_small against every session keeping its last outputs and
  its digits unpacked;
- uploads: 10 MB files to /gradio_api/upload, no session needed: what the upload folder holds
  after, with limits.UPLOAD_CACHE_BYTES against no cap;
- bodies: 13 MB data URLs to the pad's picture reader, all at once: the server's peak memory
  added, with limits.LARGE_AT_ONCE against as many at once as are sent;
- starts: "Start a class" from one client: how many are refused, with what, and whether another
  client still starts one;
- trainings: "Train on our class" from one tab as fast as it sends, with a student's cheap event
  (the class clock) every 0.1 s meanwhile: the slowest answer, and "Queue is full" counted.

With ``--serve`` it is the server itself (started by the run, on the port ``--port`` gives).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import io
import json
import os
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from .harness import events
from .harness.launcher import launch

MB = 1024 * 1024
ATTACKS = ("sessions", "imports", "uploads", "bodies", "starts", "trainings")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m benchmarks.attacks", description=__doc__.split("\n\n")[0])
    p.add_argument("--only", choices=ATTACKS, action="append", help="run only this attack (repeatable)")
    p.add_argument("--sessions", type=int, default=6000)
    p.add_argument("--imports", type=int, default=300)
    p.add_argument("--uploads", type=int, default=100)
    p.add_argument("--bodies", type=int, default=48)
    p.add_argument("--starts", type=int, default=520)
    p.add_argument("--trainings", type=int, default=300)
    p.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--port", type=int, default=7860, help=argparse.SUPPRESS)
    p.add_argument("--capacity", type=int, default=None, help=argparse.SUPPRESS)
    p.add_argument("--upload-cap", type=int, default=None, help=argparse.SUPPRESS)
    p.add_argument("--large-at-once", type=int, default=None, help=argparse.SUPPRESS)
    p.add_argument("--keep-outputs", action="store_true", help=argparse.SUPPRESS)
    return p


# ---------------------------------------------------------------------------- the server


def serve(args) -> None:
    from mnist_demo import ui
    from mnist_demo.limits import LARGE_AT_ONCE, UploadBudget
    from mnist_demo.settings import from_process
    from mnist_demo.ui import SESSIONS, build_demo, launch_options, queued

    if args.keep_outputs:  # the baseline: every session keeps its last outputs, as Gradio does
        ui.keep_sessions_small = lambda demo: None
    settings = from_process()
    demo = build_demo(settings=settings)
    # The app's own options (its routes and middleware too), with the flood's baseline limits.
    options = launch_options(uploads=UploadBudget(args.upload_cap) if args.upload_cap else None,
                             large_at_once=args.large_at_once or LARGE_AT_ONCE)
    options["state_session_capacity"] = args.capacity or SESSIONS
    queued(demo, settings).launch(server_name="127.0.0.1", server_port=args.port, **options)


@contextlib.contextmanager
def served(extra: list[str], env: dict | None = None):
    """The app in its own process, its data and upload folders fresh, and removed after (a run's
    floods leave up to a gigabyte there): (url, process, upload folder)."""
    with tempfile.TemporaryDirectory(prefix="attack-data-") as data, \
            tempfile.TemporaryDirectory(prefix="attack-uploads-") as uploads, \
            launch("-m", "benchmarks.attacks", "--serve", *extra, timeout=180,
                   env={"MNIST_DATA_DIR": data, "GRADIO_TEMP_DIR": uploads, **(env or {})}) as (url, proc):
        yield url, proc, Path(uploads)


def rss(pid: int, field: str = "VmRSS") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise KeyError(field)


def post(url: str, path: str, body: bytes, content_type: str = "application/json", headers: dict | None = None):
    import urllib.error
    import urllib.request

    request = urllib.request.Request(url.rstrip("/") + path, body, method="POST",
                                     headers={"content-type": content_type, **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=120) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()
    except OSError as e:  # refused and closed while still sending
        return None, str(e).encode()


def pad_id(url: str) -> int:
    import urllib.request

    config = json.loads(urllib.request.urlopen(url.rstrip("/") + "/config", timeout=30).read())
    return next(c["id"] for c in config["components"] if c.get("props", {}).get("elem_id") == "pad")


def fn_of(url: str, name: str) -> int:
    import urllib.request

    config = json.loads(urllib.request.urlopen(url.rstrip("/") + "/config", timeout=30).read())
    ids = {c["id"]: c for c in config["components"]}
    for k, dep in enumerate(config["dependencies"]):
        targets = [ids.get(t[0], {}).get("props", {}).get("elem_id") for t in dep.get("targets", [])]
        if name in targets:
            return dep.get("id", k)
    raise KeyError(name)


# ---------------------------------------------------------------------------- the attacks


def sessions(n: int) -> None:
    def flood(extra):
        with served(extra) as (url, proc, _uploads):
            pad = pad_id(url)
            before = rss(proc.pid)

            def one(_):
                body = json.dumps({"session_hash": events.new_session(), "component_id": pad, "fn_name": "read_digit",
                                   "data": None}).encode()
                return post(url, "/gradio_api/component_server", body)[0]
            with ThreadPoolExecutor(8) as pool:
                list(pool.map(one, range(n)))
            return rss(proc.pid) - before
    ours, baseline = flood([]), flood(["--capacity", "10000", "--keep-outputs"])  # Gradio's defaults
    print(f"[sessions] {n:,} fresh session hashes calling the pad's server function: +{ours / MB:.0f} MB RSS "
          f"(Gradio's 10,000 sessions: +{baseline / MB:.0f} MB; {ours / max(baseline, 1):.2f}x)")


def imports(n: int) -> None:
    import numpy as np

    from mnist_demo.collection import CAP, Digits
    from mnist_demo.digit_files import write_idx_pair
    from mnist_demo.settings import from_process

    # Real handwriting (MNIST's first 2,000 validation digits), as a visitor's export holds it: an idle
    # session's digits are held compressed, and blank-but-for-a-stripe digits would flatter that.
    mnist = from_process().mnist.load()
    pixels = np.rint(mnist.x_valid[:CAP] * 256).astype(np.uint8)
    with tempfile.TemporaryDirectory(prefix="attack-pair-") as folder:
        pair = write_idx_pair(Digits(pixels, mnist.y_valid[:CAP].astype(np.uint8), np.arange(CAP)), Path(folder),
                              "pair")
        body = b"".join(b"--XyZ\r\nContent-Disposition: form-data; name=\"files\"; filename=\"%s\"\r\n"
                        b"Content-Type: application/gzip\r\n\r\n" % p.name.encode() + p.read_bytes() + b"\r\n"
                        for p in pair) + b"--XyZ--\r\n"
        pair_kb = sum(p.stat().st_size for p in pair) // 1000

    def flood(extra):
        with served(extra) as (url, proc, _uploads):
            index = fn_of(url, "import-digits")
            before = rss(proc.pid)

            def one(_):
                status, paths = post(url, "/gradio_api/upload", body, "multipart/form-data; boundary=XyZ")
                files = [{"path": p, "meta": {"_type": "gradio.FileData"}} for p in json.loads(paths)]
                return events.call(url, index, [files, None], events.new_session())["success"]
            with ThreadPoolExecutor(4) as pool:
                ok = sum(pool.map(one, range(n)))
            time.sleep(12)  # the app's sweep runs every 5 s
            return rss(proc.pid) - before, ok
    (ours, ok), (baseline, _) = flood([]), flood(["--keep-outputs"])
    print(f"[imports] {n} sessions each importing a {pair_kb} kB pair of "
          f"{CAP:,} digits: +{ours / MB:.0f} MB RSS, {ok} imported (every session keeping its outputs: "
          f"+{baseline / MB:.0f} MB; {ours / max(baseline, 1):.2f}x)")


def uploads(n: int) -> None:
    body_file = os.urandom(10 * 1000 * 1000)

    def flood(extra):
        with served(extra) as (url, _proc, folder):
            statuses = []
            for k in range(n):
                body = (b"--XyZ\r\nContent-Disposition: form-data; name=\"files\"; filename=\"f%d.bin\"\r\n"
                        b"Content-Type: application/octet-stream\r\n\r\n" % k) + body_file + b"\r\n--XyZ--\r\n"
                statuses.append(post(url, "/gradio_api/upload", body, "multipart/form-data; boundary=XyZ")[0])
            held = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
            return statuses.count(200), held
    (kept, held), (b_kept, b_held) = flood([]), flood(["--upload-cap", str(10**13)])
    print(f"[uploads] {n} x 10 MB to /gradio_api/upload: {kept} kept, {n - kept} refused, {held / MB:.0f} MB left "
          f"on disk (no cap: {b_kept} kept, {b_held / MB:.0f} MB)")


def picture_data_url(target: int = 9_500_000) -> str:
    import numpy as np
    from PIL import Image

    side = int((target / 3) ** 0.5)
    noise = np.random.default_rng(0).integers(0, 256, (side, side, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(noise).save(buf, "PNG", compress_level=0)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def bodies(n: int) -> None:
    picture = picture_data_url()

    def flood(extra):
        with served(extra) as (url, proc, _uploads):
            pad = pad_id(url)
            Path(f"/proc/{proc.pid}/clear_refs").write_text("5")
            before = rss(proc.pid)
            body = json.dumps({"session_hash": events.new_session(), "component_id": pad, "fn_name": "read_digit",
                               "data": picture}).encode()
            with ThreadPoolExecutor(n) as pool:
                statuses = list(pool.map(lambda _: post(url, "/gradio_api/component_server", body)[0], range(n)))
            return rss(proc.pid, "VmHWM") - before, statuses.count(200)
    (peak, ok), (b_peak, b_ok) = flood([]), flood(["--large-at-once", str(n)])
    print(f"[bodies] {n} x {len(picture) / 1e6:.0f} MB data URLs to the picture reader at once: peak "
          f"+{peak / MB:.0f} MB, {ok} answered (all at once: +{b_peak / MB:.0f} MB, {b_ok} answered; "
          f"{peak / max(b_peak, 1):.2f}x)")


def starts(n: int) -> None:
    with served([], env={"MNIST_TRUSTED_PROXY_HOPS": "1"}) as (url, _proc, _uploads):
        start = fn_of(url, "class-start")
        answers = [events.call(url, start, [None], events.new_session(), headers={"x-forwarded-for": "203.0.113.9"})
                   for _ in range(n)]
        other = events.call(url, start, [None], events.new_session(), headers={"x-forwarded-for": "198.51.100.7"})
    refused = [a["error"] for a in answers if not a["success"]]
    bare = sum(1 for e in refused if not isinstance(e, str))
    print(f"[starts] {n} 'Start a class' from one client: {n - len(refused)} started, {len(refused)} refused "
          f"({bare} without a sentence): {refused[0] if refused else '-'}; another client: "
          f"{'started' if other['success'] else other['error']}")


def trainings(n: int) -> None:
    with served([]) as (url, _proc, _uploads):
        start, train = fn_of(url, "class-start"), fn_of(url, "class-train")
        tick = fn_of(url, "class-join")
        teacher = events.new_session()
        started = events.call(url, start, [None], teacher)
        echo = next(v for v in started["output"] if isinstance(v, str) and v.startswith("{\"code\""))
        slowest, full, done = [0.0], [0], threading.Event()

        def student():
            while not done.is_set():
                began = time.perf_counter()
                answer = events.call(url, tick, [None, None, "NOCODE"], events.new_session())
                slowest[0] = max(slowest[0], time.perf_counter() - began)
                full[0] += "queue is full" in str(answer["error"]).lower()
                time.sleep(0.1)
        watcher = threading.Thread(target=student)
        watcher.start()
        with ThreadPoolExecutor(8) as pool:
            # "The server": as the page sends page_trainer.SERVER (a press "This device" would answer in the page)
            joins = list(pool.map(lambda _: events.join(url, train, [None, echo, None, "The server"], teacher),
                                  range(n)))
        time.sleep(2)
        done.set()
        watcher.join()
    admitted = sum(1 for j in joins if j.get("event_id"))
    print(f"[trainings] {n} 'Train on our class' from one tab: {admitted} admitted, {n - admitted} refused before "
          f"the queue; a student's event meanwhile: slowest {slowest[0] * 1000:.0f} ms, 'Queue is full' "
          f"{full[0]} times")


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    if args.serve:
        return serve(args)
    sizes = {"sessions": args.sessions, "imports": args.imports, "uploads": args.uploads, "bodies": args.bodies,
             "starts": args.starts, "trainings": args.trainings}
    for name in args.only or ATTACKS:
        globals()[name](sizes[name])


if __name__ == "__main__":
    main()
