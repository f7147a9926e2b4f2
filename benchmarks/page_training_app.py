"""Training on "This device" through the real app (issue 28's goals), in headless Chromium: the
app launched as a user launches it (`python app.py`, a fresh data folder), a fresh browser
profile per page (so each downloads MNIST from the app, as a first visit does), the Train tab's
own controls, Start pressed; the clock is the page's `data-seconds` at done, from Start,
download included. The weights the page offers for download are judged in Python on all
20,000 validation digits. The server's CPU seconds from Start to done are read from
/proc/<pid>/stat: the data files are made before the clock starts (their first request
after a start costs the server a second or two, once), so that what is measured is what a page
training costs it.

    python -m benchmarks.page_training_app                         # the CNN, fast, seed 0
    python -m benchmarks.page_training_app --model linear
    python -m benchmarks.page_training_app --model linear --pages 10   # 10 pages at once
    python -m benchmarks.page_training_app --throttle 4                 # a mid-range phone's CPU
    python -m benchmarks.page_training_app --throttle 4 --workers 1     # one worker behind it
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
import urllib.request
from pathlib import Path

import torch

from benchmarks.harness.launcher import cpu_seconds, launch
from mnist_demo.evaluation import evaluate
from mnist_demo.settings import from_process
from mnist_demo.weights import load_weights

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")


# The same loop on the page's thread and in a Web Worker, timed by each: whether DevTools' CPU
# throttling reaches the workers (it did not, in Chromium here: only the page's thread slows).
THROTTLE_PROBE = """async () => {
  const loop = `let s = 0; for (let i = 0; i < 1e8; i++) s += i % 7; s`;
  const t0 = performance.now(); eval(loop); const main = performance.now() - t0;
  const src = `onmessage = () => { const t = performance.now(); ${loop}; postMessage(performance.now() - t); }`;
  const w = new Worker(URL.createObjectURL(new Blob([src], {type: "text/javascript"})));
  const worker = await new Promise((r) => { w.onmessage = (e) => r(e.data); w.postMessage(0); });
  w.terminate();
  return {main, worker};
}"""


def renderers_mb() -> float:
    """The largest resident size of Chromium's renderer processes now, in MB. A page's dedicated
    Web Workers are threads of its renderer, so this bounds the page's and its workers' JS heaps
    together (with the rest of the renderer: a bound, not the heaps themselves)."""
    largest = 0
    for proc in Path("/proc").iterdir():
        try:
            if b"--type=renderer" in (proc / "cmdline").read_bytes():
                rss = next(line for line in (proc / "status").read_text().splitlines() if line.startswith("VmRSS"))
                largest = max(largest, int(rss.split()[1]))
        except (OSError, StopIteration, ValueError):
            continue
    return largest / 1024


class HeapProbe:
    """The JS heaps of a page and of its Web Workers, through Chromium's DevTools protocol: each
    one's Runtime.getHeapUsage, its objects (usedSize) and the typed arrays' memory outside them
    (backingStorageSize: the digits and weights are Uint8Array and Float32Array). Workers are
    reached by auto-attaching to them (their messages ride on the page's session), as they start."""

    def __init__(self, page):
        self.page, self.session = page, page.context.new_cdp_session(page)
        self.workers: dict[str, float] = {}  # a worker's session: its last measured MB
        self.asked = 0
        self.session.on("Target.attachedToTarget", self._attached)
        self.session.on("Target.detachedFromTarget", lambda e: self.workers.pop(e["sessionId"], None))
        self.session.on("Target.receivedMessageFromTarget", self._reply)
        self.session.send("Target.setAutoAttach",
                          {"autoAttach": True, "waitForDebuggerOnStart": False, "flatten": False})

    def _attached(self, event):
        if event["targetInfo"]["type"] == "worker":
            self.workers[event["sessionId"]] = 0.0

    def _reply(self, event):
        message = json.loads(event["message"])
        if event["sessionId"] in self.workers and "usedSize" in message.get("result", {}):
            self.workers[event["sessionId"]] = mb(message["result"])

    def total_mb(self) -> float:
        """The page's heap now, plus each worker's as last measured (asked now; their answers come
        while the page's event loop runs, within the next poll)."""
        for sid in list(self.workers):
            self.asked += 1
            self.session.send("Target.sendMessageToTarget", {
                "sessionId": sid, "message": json.dumps({"id": self.asked, "method": "Runtime.getHeapUsage"})})
        return mb(self.session.send("Runtime.getHeapUsage")) + sum(self.workers.values())


def mb(usage: dict) -> float:
    return (usage["usedSize"] + usage.get("backingStorageSize", 0)) / 2**20


# Every request the page began between Start and done (the page's own resource timing).
SENT = """() => {
  const api = [...document.querySelectorAll('*')].find((e) => e.pageTrainer).pageTrainer;
  return performance.getEntriesByType('resource')
    .filter((e) => e.startTime >= api.startedAt() && e.startTime <= api.endedAt()).map((e) => e.name);
}"""


def open_train_tab(browser, url: str, model: str, seed: int, workers: int | None = None):
    context = browser.new_context(viewport={"width": 1366, "height": 768}, accept_downloads=True)
    context.add_init_script("performance.setResourceTimingBufferSize(100000);")
    if workers:  # the page makes one Web Worker per core it is told of (trainer.workerCount)
        context.add_init_script(f"Object.defineProperty(Navigator.prototype, 'hardwareConcurrency', "
                                f"{{ get: () => {workers} }});")
    page = context.new_page()
    page.goto(url)
    page.wait_for_selector("#pad .pad-canvas")
    page.get_by_role("tab", name="Train", exact=True).click()
    page.wait_for_selector("#page-trainer[data-ready]")  # its scripts loaded: Start is answered in the page
    page.locator(f"#train-model input[value='{model}']").check()
    if seed:
        page.get_by_text("More settings").click()
        page.locator("#train-seed input").fill(str(seed))
        page.locator("#train-seed input").press("Enter")
    return page


def judged(page, model: str, folder: Path, x, y) -> float:
    with page.expect_download() as info:
        page.locator(f"a#page-trainer-download-{model}").click()
    path = folder / f"{model}-{time.monotonic_ns()}.safetensors"
    info.value.save_as(path)
    net, _ = load_weights(path, expect=model)
    return evaluate(net, x, y)[1]


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", choices=("cnn", "linear"), default="cnn")
    p.add_argument("--seeds", default="0", help="comma-separated; one run each, the median printed")
    p.add_argument("--pages", type=int, default=1, help="pages training at once (one seed)")
    p.add_argument("--throttle", type=float, default=1,
                   help="Chromium's CPU throttling rate (Emulation.setCPUThrottlingRate): 4 for a mid-range phone")
    p.add_argument("--workers", type=int, default=None,
                   help="the cores the page is told of (navigator.hardwareConcurrency), so its Web Workers: 1 "
                        "measures one worker, as where the throttle cannot reach the workers")
    return p


def main() -> None:
    args = parser().parse_args()
    from playwright.sync_api import sync_playwright

    data = from_process().mnist.load()
    x, y = torch.tensor(data.x_valid), torch.tensor(data.y_valid)
    with tempfile.TemporaryDirectory() as tmp, launch("app.py", env={"MNIST_DATA_DIR": tmp}) as (url, proc), \
            sync_playwright() as pw:
        urllib.request.urlopen(url + "mnist-data/manifest.json", timeout=120).read()  # the files made, once
        browser = pw.chromium.launch(executable_path=CHROMIUM)
        rows = []
        for seed in [int(s) for s in args.seeds.split(",")]:
            pages = [open_train_tab(browser, url, args.model, seed, args.workers) for _ in range(args.pages)]
            if args.throttle != 1:
                plain = pages[0].evaluate(THROTTLE_PROBE)
                for page in pages:
                    page.context.new_cdp_session(page).send("Emulation.setCPUThrottlingRate", {"rate": args.throttle})
                slowed = pages[0].evaluate(THROTTLE_PROBE)
                print(f"throttled {args.throttle:g}x: the page's thread {slowed['main'] / plain['main']:.1f}x slower, "
                      f"a Web Worker {slowed['worker'] / plain['worker']:.1f}x", flush=True)
            before, wall = cpu_seconds(proc.pid), time.monotonic()
            for page in pages:
                page.locator("#train-start").click()
            peak = heap = 0.0
            probe = HeapProbe(pages[0])  # the first page's JS heap and its workers'
            for page in pages:
                while page.locator("#page-trainer").get_attribute("data-state") in ("loading", "running"):
                    peak = max(peak, renderers_mb())
                    heap = max(heap, probe.total_mb())
                    page.wait_for_timeout(500)  # (Playwright hears the workers' answers while it waits)
            server = cpu_seconds(proc.pid) - before
            wall = time.monotonic() - wall
            for page in pages:
                box = page.locator("#page-trainer")
                assert box.get_attribute("data-state") == "done", page.locator(".pt-status").inner_text()
                sent = page.evaluate(SENT)
                others = [u for u in sent if "/mnist-data/" not in u]
                joins = sum("/queue/join" in u for u in sent)
                acc = judged(page, args.model, Path(tmp), x, y)
                rows.append((seed, float(box.get_attribute("data-seconds")), acc,
                             int(box.get_attribute("data-workers")), int(box.get_attribute("data-downloaded"))))
                print(f"seed {seed}: {rows[-1][1]:.1f} s from Start to done ({rows[-1][3]} workers, "
                      f"{rows[-1][4] / 1e6:.1f} MB downloaded), Python on all 20,000: {acc:.2%}; from Start to done "
                      f"{len(sent)} requests, {len(others)} of them not for the training digits, {joins} queued "
                      f"events", flush=True)
                page.context.close()
            print(f"{args.pages} page(s) together: {wall:.1f} s wall, the server's CPU {server:.2f} s; the largest "
                  f"renderer's resident memory while training {peak:.0f} MB; the JS heaps of the first page and its "
                  f"workers together, typed arrays included, at most {heap:.0f} MB", flush=True)
        browser.close()
    print(f"median: {statistics.median(r[1] for r in rows):.1f} s, {statistics.median(r[2] for r in rows):.2%}")


if __name__ == "__main__":
    main()
