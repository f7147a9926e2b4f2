"""Load: N concurrent API clients x M `/classify` requests against the app on loopback, beside a
do-nothing `/classify` with the app's own settings (benchmarks/noop_app.py) under the same load in
the same run; then again while other sessions train the CNN on the full split (two by default:
the app's own limit on 2 CPUs). Bounded in count and time.

    python -m benchmarks.load                       # 20 clients x 10 requests, starts both apps
    python -m benchmarks.load --url http://127.0.0.1:7860/ --clients 20 --requests 10

Goals on a 2-core machine: 0 errors; the app's p95 within 1.25x of the do-nothing endpoint's.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from benchmarks.harness.client import api_client
from benchmarks.harness.launcher import launch
from benchmarks.seven import save_png  # the same 800x800 transparent '7' predict_latency measures


def hammer(url: str, path: str, clients: int, requests: int, time_limit: float) -> tuple[list[float], list[str]]:
    from gradio_client import handle_file

    latencies, errors, lock = [], [], threading.Lock()
    deadline = time.monotonic() + time_limit

    def one_client(_):
        try:
            client = api_client(url)
        except Exception as e:  # noqa: BLE001 - every failure is a counted error
            with lock:
                errors.append(f"connect: {e}")
            return
        for _ in range(requests):
            if time.monotonic() > deadline:
                with lock:
                    errors.append("time limit")
                return
            t0 = time.perf_counter()
            try:
                result = client.predict(handle_file(path), api_name="/classify")
                assert "cnn" in result
                with lock:
                    latencies.append(time.perf_counter() - t0)
            except Exception as e:  # noqa: BLE001
                with lock:
                    errors.append(f"{type(e).__name__}: {e}"[:120])

    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(one_client, range(clients)))
    return latencies, errors


def report(label: str, latencies: list[float], errors: list[str], wall: float) -> None:
    ms = np.array(latencies) * 1e3 if latencies else np.array([np.nan])
    print(f"{label:16} ok {len(latencies):4d}  errors {len(errors):3d}  "
          f"p50 {np.percentile(ms, 50):7.0f} ms  p95 {np.percentile(ms, 95):7.0f} ms  "
          f"p99 {np.percentile(ms, 99):7.0f} ms  {len(latencies) / wall:5.1f} req/s")
    for e in sorted(set(errors))[:5]:
        print(f"    {e}")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--url", help="a running app (default: start one in this process)")
    p.add_argument("--clients", type=int, default=20)
    p.add_argument("--requests", type=int, default=10)
    p.add_argument("--time-limit", type=float, default=180, help="seconds per phase")
    p.add_argument("--no-training", action="store_true", help="skip the phase under training")
    p.add_argument("--trainings", type=int, default=2, help="sessions training at once in that phase")
    p.add_argument("--rounds", type=int, default=2, help="alternating rounds per app (default 2)")
    return p


def main() -> None:
    args = parser().parse_args()
    args.clients, args.requests = min(args.clients, 100), min(args.requests, 100)  # stay bounded

    with contextlib.ExitStack() as stack:  # each app in its own process, as deployed
        url = args.url or stack.enter_context(launch("app.py", timeout=300))[0]
        baseline = stack.enter_context(launch("-m", "benchmarks.noop_app", timeout=300))[0]
        run(args, url, baseline)


def run(args, url: str, baseline: str):
    if not url.startswith(("http://127.", "http://localhost", "http://[::1]")):
        sys.exit("load tests only target this machine's loopback addresses")

    print(f"{args.clients} clients x {args.requests} requests of /classify (800x800 PNG) against {url}, "
          f"and against a do-nothing /classify at {baseline}; rounds alternate to share the machine's noise")
    with tempfile.TemporaryDirectory() as tmp:
        path = save_png(Path(tmp))
        results = {"do-nothing": ([], [], 0.0), "app": ([], [], 0.0)}
        for _round in range(args.rounds):
            for name, target in (("do-nothing", baseline), ("app", url)):
                t0 = time.monotonic()
                lat, err = hammer(target, path, args.clients, args.requests, args.time_limit)
                old = results[name]
                results[name] = (old[0] + lat, old[1] + err, old[2] + time.monotonic() - t0)
        for name, (lat, err, wall) in results.items():
            report(f"idle, {name}", lat, err, wall)
        ratio = np.percentile(results["app"][0], 95) / np.percentile(results["do-nothing"][0], 95)
        print(f"app p95 / do-nothing p95: {ratio:.2f}x (goal <= 1.25x)")
        if not args.no_training:
            jobs = [api_client(url).submit("cnn", "one-cycle", 15, 0.01, 64, "adam", "onecycle", 50_000,
                                                      0, False, 0, "new weights", False, api_name="/train")
                    for _ in range(args.trainings)]
            while any(len(job.outputs()) < 3 and not job.done() for job in jobs):
                time.sleep(0.2)
            t0 = time.monotonic()
            lat, err = hammer(url, path, args.clients, args.requests, args.time_limit)
            report(f"{args.trainings} training", lat, err, time.monotonic() - t0)
            print(f"p95 while {args.trainings} sessions train / idle do-nothing p95: "
                  f"{np.percentile(lat, 95) / np.percentile(results['do-nothing'][0], 95):.2f}x")
            for job in jobs:
                job.cancel()


if __name__ == "__main__":
    main()
