"""A class under load: N simulated students keep a drawing every 2 s through the app's own events
over HTTP, with the class's wall open; halfway the server is killed with ``kill -9`` and restarted
on the same port and data folder; then five classes of 30 keep at once. Bounded in time.

    python -m benchmarks.class_load                  # 60 students x 120 s, kill -9 at 60 s; 5 classes of 30 x 30 s
    python -m benchmarks.class_load --students 60 --seconds 120 --classes 5 --class-size 30 --five-seconds 30

Each simulated page does what a browser's page does, over Gradio's queue (POST
/gradio_api/queue/join, then the session's stream /gradio_api/queue/data), with the event numbers
read from the app's /config: it opens as page/class_seat.js does, with the "open" event of the
hidden #class-seat element carrying the address's parameters ({"class": CODE} for the join link)
and the seat this browser stored (null at first; after a reload, the seat the server sent back,
so a reloaded join link is the same student); holds its heartbeat open; keeps a drawing as the
pad does: its outbox sends the entry ({id made on the device, label, 784 bytes in base64, the
models' answers, the stored seat}) to the pad's server function ``send_to_class`` (a plain POST to
/gradio_api/component_server, outside the queue), beside the pad's "keep" event (the student's own
collection); ticks the student timer at the period /config gives it. When the server is gone it polls
/gradio_api/app_id every 2 s and reloads, as Gradio's page does, and restores what it kept. The
wall is a page opened with params {"wall": TOKEN} whose timer ticks.

"Acknowledged": the class answered "stored" or "stored before" (what the page's outbox waits for
before it counts the drawing as sent). "On the wall": the first wall refresh, as the wall page received it, whose
drawing count covers the drawing (the wall is redrawn from all of the class's drawings, oldest
first, so a count of n shows the class's first n). Classes are made in the database before the
server starts; the server runs with the app's defaults (MNIST_CLASS_MAX_DRAWINGS 5,000, above
60 x 60 keeps; MNIST_QUEUE_SIZE 256) unless --max-drawings says otherwise.

Goals (issue 17): 0 drawings lost and 0 duplicated; keep acknowledged p95 <= 0.5 s; keep -> on
the wall p95 <= 2 s; every acknowledged drawing still in the database after the kill -9; no
drawing reaches another class. Server CPU per keep, per student timer tick and per wall refresh
reported (/proc).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.class_phases import Bench
from benchmarks.class_report import report
from mnist_demo.classes.store import Classroom


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--students", type=int, default=60, help="students in the big class (default 60)")
    p.add_argument("--seconds", type=float, default=120, help="how long they keep (default 120)")
    p.add_argument("--every", type=float, default=2.0, help="seconds between one student's keeps (default 2)")
    p.add_argument("--no-restart", action="store_true", help="no kill -9 halfway")
    p.add_argument("--classes", type=int, default=5, help="classes at once in the second part (0: none)")
    p.add_argument("--class-size", type=int, default=30)
    p.add_argument("--five-seconds", type=float, default=30, help="how long those classes keep (default 30)")
    p.add_argument("--double-taps", type=float, default=0.05, help="share of keeps sent twice (default 0.05)")
    p.add_argument("--isolation-seconds", type=float, default=6, help="keeps alone, for their CPU (default 6)")
    p.add_argument("--idle-seconds", type=float, default=3, help="the idle server's CPU rate, measured (default 3)")
    p.add_argument("--refreshes", type=int, default=8, help="wall refreshes and timer ticks measured alone")
    p.add_argument("--wall-grace", type=float, default=3, help="seconds the walls keep refreshing after the keeps")
    p.add_argument("--max-drawings", type=int, default=None,
                   help="MNIST_CLASS_MAX_DRAWINGS for the server (default: the app's, 5,000, above 60 x 60 keeps)")
    p.add_argument("--time-limit", type=float, default=280,
                   help="seconds for everything; the last phase is shortened to fit (default 280)")
    p.add_argument("--keep-data", action="store_true", help="keep the data folder and server logs")
    return p


def main() -> int:
    args = parser().parse_args()
    args.students, args.class_size = min(args.students, 100), min(args.class_size, 100)  # stay bounded
    args.classes = min(args.classes, 10)
    folder = Path(tempfile.mkdtemp(prefix="class-load-"))
    try:
        with Classroom(folder) as room:  # as a teacher's "Start a class" does; the wall token comes with it
            classes = [room.create_class() for _ in range(1 + args.classes)]
        print(f"{args.students} students in class {classes[0].code}, then {args.classes} classes of {args.class_size}; "
              f"data folder {folder}; {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
        with contextlib.ExitStack() as stack:
            bench = Bench(args, folder, classes, stack)
            t0 = time.monotonic()
            try:
                asyncio.run(asyncio.wait_for(bench.run(), args.time_limit))
            except TimeoutError:
                print(f"stopped at the time limit ({args.time_limit:.0f} s)")
            print(f"ran {time.monotonic() - t0:.0f} s; load average (1 min) at the end {os.getloadavg()[0]:.1f}")
        if "A end" not in bench.marks:
            return 2
        return report(bench)  # the server has stopped: the database is read as the host would
    finally:
        if args.keep_data:
            print(f"kept {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
