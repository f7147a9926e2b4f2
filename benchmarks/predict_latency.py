"""Prediction latency, in process and through the public API, in one run.

1. In process: what the app does with an uploaded picture file (an 800x800 transparent PNG of a
   '7', and the same '7' as a black-on-white JPEG photo): open it (``ui_draw.open_image``),
   preprocess it, run both models; p50 / p95 over many calls. Goal: p50 <= 5 ms for the PNG's
   preprocessing + models. Also every "Look inside" picture for that digit (goal <= 50 ms).
2. Through gradio_client: `/classify` of the real app next to a do-nothing Gradio endpoint that
   takes the same file and returns an empty dict, both served by this process. Goal: the app
   adds <= 25 ms to Gradio's own round trip.

3. With --during-training: /classify p50 / p95 idle, then while another session trains the CNN
   on the full split. Goal: p95 during training <= 2x idle.

4. With --startup: seconds from the end of `import gradio` until the app serves.

    python -m benchmarks.predict_latency [--n 300] [--api-n 100] [--during-training] [--startup]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.harness.client import api_client
from benchmarks.seven import picture_file, save_png
from mnist_demo.inference import Predictor
from mnist_demo.preprocess import preprocess

REPO = Path(__file__).resolve().parents[1]


def percentiles(times: list[float]) -> str:
    ms = np.array(times) * 1e3
    return f"p50 {np.percentile(ms, 50):7.2f} ms   p95 {np.percentile(ms, 95):7.2f} ms"


def timed(fn, n: int) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def in_process(n: int) -> None:
    from mnist_demo.pictures import open_image  # the app's own reading of an uploaded file

    predictor = Predictor()
    for fmt in ("PNG", "JPEG"):
        data = picture_file(fmt)
        for _ in range(10):
            predictor.predict(open_image(data))  # warm-up
        image = open_image(data)
        digit = preprocess(image)
        opening = timed(lambda data=data: open_image(data), n)
        pre = timed(lambda image=image: preprocess(image), n)
        models = timed(lambda digit=digit: predictor.predict_digit(digit), n)
        total = timed(lambda data=data: predictor.predict(open_image(data)), n)
        print(f"in process, 800x800 {'transparent PNG' if fmt == 'PNG' else 'black-on-white JPEG'} "
              f"({len(data):,} bytes), {n} calls")
        print(f"  opening the file     {percentiles(opening)}")
        print(f"  preprocessing        {percentiles(pre)}")
        print(f"  both models          {percentiles(models)}")
        print(f"  total                {percentiles(total)}" + ("   (goal: preprocessing + models p50 <= 5 ms)"
                                                            if fmt == "PNG" else ""))
    from mnist_demo.ui_inside import drawing_views, look_inside

    look_inside(predictor.models, digit)  # warm-up (imports matplotlib's colour maps)
    drawing = timed(lambda: drawing_views(predictor.models, digit), n // 3)
    every = timed(lambda: look_inside(predictor.models, digit), n // 3)
    print(f"  look-inside, drawing {percentiles(drawing)}   (goal <= 50 ms; when the tab is shown)")
    print(f"  look-inside, all     {percentiles(every)}   (what a switch to the tab computes)")


def through_api(n: int) -> None:
    import gradio as gr
    from gradio_client import handle_file

    from mnist_demo.ui import LAUNCH_OPTIONS, build_demo

    with gr.Blocks() as noop:  # Gradio's own round trip: same input type, no work
        f, j, b = gr.File(type="filepath"), gr.JSON(), gr.Button()
        b.click(lambda path: {}, f, j, api_name="classify")
    apps = {"do-nothing": noop, "app": build_demo()}
    urls = {}
    for name, demo in apps.items():
        _, urls[name], _ = demo.queue().launch(prevent_thread_lock=True, quiet=True, **LAUNCH_OPTIONS)
    with tempfile.TemporaryDirectory() as tmp:
        path = save_png(Path(tmp))
        clients = {name: api_client(url) for name, url in urls.items()}
        results = {}
        for _ in range(5):
            for c in clients.values():
                c.predict(handle_file(str(path)), api_name="/classify")
        for _round in range(2):  # interleave to share the machine's noise fairly
            for name, c in clients.items():
                results.setdefault(name, []).extend(
                    timed(lambda c=c: c.predict(handle_file(str(path)), api_name="/classify"), n // 2))
    print(f"\nthrough gradio_client, /classify with an 800x800 PNG, {n} calls each")
    for name, times in results.items():
        print(f"  {name:11}          {percentiles(times)}")
    added = np.percentile(results["app"], 50) - np.percentile(results["do-nothing"], 50)
    print(f"  the app adds {added * 1e3:.1f} ms at p50 to Gradio's own round trip (goal <= 25 ms)")
    for demo in apps.values():
        demo.close()


def during_training(n: int) -> None:
    """/classify p50/p95 idle, then while another session trains the CNN on all 50,000 digits."""
    from gradio_client import handle_file

    from mnist_demo.ui import LAUNCH_OPTIONS, build_demo

    demo = build_demo()
    _, url, _ = demo.queue().launch(prevent_thread_lock=True, quiet=True, **LAUNCH_OPTIONS)
    with tempfile.TemporaryDirectory() as tmp:
        path = save_png(Path(tmp))
        drawer, trainer = api_client(url), api_client(url)
        call = lambda: drawer.predict(handle_file(str(path)), api_name="/classify")  # noqa: E731
        for _ in range(5):
            call()
        idle = timed(call, n)
        job = trainer.submit("cnn", "one-cycle", 15, 0.01, 64, "adam", "onecycle", 50_000, 0, False, 0,
                             "new weights", False, api_name="/train")
        while len(job.outputs()) < 3:  # training is under way
            time.sleep(0.2)
        busy = timed(call, n)
        job.cancel()
    print(f"\n/classify while another session trains the CNN (full split), {n} calls each")
    print(f"  idle                 {percentiles(idle)}")
    print(f"  during training      {percentiles(busy)}")
    print(f"  p95 ratio {np.percentile(busy, 95) / np.percentile(idle, 95):.2f}x (goal <= 2x)")
    demo.close()


STARTUP = """
import time
import gradio  # noqa: F401  (Gradio's own import time is not counted)
t0 = time.perf_counter()
import app
from mnist_demo.ui import LAUNCH_OPTIONS, queued
queued(app.demo, app.SETTINGS).launch(prevent_thread_lock=True, quiet=True, **LAUNCH_OPTIONS)
print(f"startup-seconds {time.perf_counter() - t0:.3f}", flush=True)
app.demo.close()
"""


def startup(runs: int = 3) -> None:
    """Seconds from the end of `import gradio` until the app serves, in fresh processes."""
    def once() -> float:
        out = subprocess.run([sys.executable, "-c", STARTUP], cwd=REPO, capture_output=True, text=True, check=True)
        return float(out.stdout.split("startup-seconds ")[1].split()[0])

    times = [once() for _ in range(runs)]
    print(f"\nstart-up after import gradio, {runs} fresh processes: "
          f"{', '.join(f'{t:.2f}' for t in times)} s (goal <= 2 s)")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--n", type=int, default=300)
    p.add_argument("--api-n", type=int, default=100)
    p.add_argument("--during-training", action="store_true", help="also measure /classify while a CNN trains")
    p.add_argument("--startup", action="store_true", help="also measure the app's start-up time")
    return p


def main() -> None:
    args = parser().parse_args()
    in_process(args.n)
    through_api(args.api_n)
    if args.during_training:
        during_training(args.api_n)
    if args.startup:
        startup()


if __name__ == "__main__":
    main()
