"""What one stroke on the Draw tab costs: mouse-up -> both answers on screen, and the server's
CPU per stroke; beside Gradio's own Sketchpad with a do-nothing handler, measured in the same run.

    python -m benchmarks.stroke_cost                      # 40 strokes on each app
    python -m benchmarks.stroke_cost --class-size 30      # and then a class: 30 visitors at once

Each app runs in its own process (benchmarks/harness/launcher.py); Chromium draws real mouse strokes. The
latency runs from the pointerup event's timestamp to the first animation frame after the answer
reached the page (the frame that paints it). Server CPU per stroke is the app process's CPU
while drawing, less its idle rate with the same page open. Goals: median <= 30 ms, <= 5 ms of
server CPU per stroke.

A class is simulated on this one machine: real Chromium pages and a real server, but all the
visitors' browsers share the server's 2 cores (their latencies are pessimistic) and there is no
network between them.
"""

from __future__ import annotations

import argparse
import asyncio
import time

import numpy as np

from benchmarks.harness.launcher import cpu_seconds, launch
from benchmarks.harness.pad import ARGS, CHROMIUM

# Records, per stroke, pointerup -> the frame after the answer element first changed.
WATCH = """([answer, canvas]) => {
  window.__latencies = [];
  let start = null;
  document.addEventListener('pointerup', (e) => { if (e.target.matches(canvas)) start = e.timeStamp; }, true);
  new MutationObserver(() => {
    if (start === null) return;
    const t0 = start; start = null;
    requestAnimationFrame(() => window.__latencies.push(performance.now() - t0));
  }).observe(document.querySelector(answer), {subtree: true, childList: true, attributes: true, characterData: true});
}"""

APPS = {  # what to draw on, what changes when the answer arrives, how to clear
    "pad": {"cmd": ["app.py"], "canvas": "#pad .pad-canvas", "answer": "#pad .cards", "clear": "#pad .pad-clear"},
    "sketchpad": {"cmd": ["-m", "benchmarks.sketchpad_app"], "canvas": "#sketch canvas", "answer": "#out",
                  "brush": '#sketch button[aria-label="Brush"]'},
}


async def open_visitor(browser, url, app):
    page = await browser.new_page(viewport={"width": 1280, "height": 1000})
    t0 = time.perf_counter()
    await page.goto(url, wait_until="load", timeout=300_000)  # a class's pages load together on 2 cores
    await page.locator(app["canvas"]).first.wait_for(timeout=300_000)
    if "brush" in app:  # Gradio's Sketchpad waits for its draw tool
        await page.locator(app["brush"]).click()
    await page.evaluate(WATCH, [app["answer"], app["canvas"]])
    return page, time.perf_counter() - t0


async def draw_strokes(page, app, n, rng, timeout=30.0):
    """n strokes, each waited for until its answer is on screen; returns the latencies (ms)."""
    box = await page.locator(app["canvas"]).first.bounding_box()
    side = min(box["width"], box["height"]) * 0.6
    x0, y0 = box["x"] + (box["width"] - side) / 2, box["y"] + (box["height"] - side) / 2
    for k in range(n):
        if k and k % 8 == 0 and "clear" in app:
            await page.locator(app["clear"]).click()
        a, b = rng.uniform(0, 1, 2), rng.uniform(0, 1, 2)
        await page.mouse.move(x0 + a[0] * side, y0 + a[1] * side)
        await page.mouse.down()
        await page.mouse.move(x0 + b[0] * side, y0 + b[1] * side, steps=10)
        await page.mouse.up()
        deadline = time.monotonic() + timeout
        while await page.evaluate("() => window.__latencies.length") <= k and time.monotonic() < deadline:
            await asyncio.sleep(0.005)
    return await page.evaluate("() => window.__latencies")


async def measure(name, url, proc, strokes, idle_seconds, visitors=1):
    from playwright.async_api import async_playwright

    app = APPS[name]
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        cpu0 = cpu_seconds(proc.pid)
        opened = await asyncio.gather(*(open_visitor(browser, url, app) for _ in range(visitors)))
        load_cpu = cpu_seconds(proc.pid) - cpu0
        pages, load_times = zip(*opened, strict=True)
        await asyncio.sleep(1.0)  # let the pages settle
        cpu0, t0 = cpu_seconds(proc.pid), time.perf_counter()
        await asyncio.sleep(idle_seconds)
        idle_rate = (cpu_seconds(proc.pid) - cpu0) / (time.perf_counter() - t0)
        requests = []
        for page in pages:
            page.on("request", lambda request: requests.append(request.url))
        cpu0, t0 = cpu_seconds(proc.pid), time.perf_counter()
        latencies = await asyncio.gather(*(draw_strokes(pg, app, strokes, np.random.default_rng(k))
                                           for k, pg in enumerate(pages)))
        elapsed = time.perf_counter() - t0
        used = cpu_seconds(proc.pid) - cpu0
        busy = used - idle_rate * elapsed
        await browser.close()
    lat = np.concatenate([np.asarray(x, float) for x in latencies])
    total = visitors * strokes
    return {"name": name, "visitors": visitors, "strokes": total, "answered": len(lat),
            "median": float(np.median(lat)) if len(lat) else float("nan"),
            "p95": float(np.percentile(lat, 95)) if len(lat) else float("nan"),
            "cpu_per_stroke_ms": 1000 * max(busy, 0.0) / total, "idle_cpu_pct": 100 * idle_rate,
            "strokes_per_s": total / elapsed, "load_s": np.percentile(load_times, [50, 95]).tolist(),
            "cpu_per_load_ms": 1000 * load_cpu / visitors, "cpu_used_s": used, "elapsed_s": elapsed,
            "requests_per_stroke": len(requests) / total}


def show(r):
    print(f"  {r['name']:<10} {r['visitors']:>3} visitor(s), {r['answered']}/{r['strokes']} strokes answered: "
          f"mouse-up -> answers median {r['median']:.1f} ms, p95 {r['p95']:.1f} ms; "
          f"{r['requests_per_stroke']:.1f} HTTP requests/stroke; "
          f"server CPU {r['cpu_per_stroke_ms']:.1f} ms/stroke ({r['cpu_used_s']:.2f} s in {r['elapsed_s']:.1f} s "
          f"of drawing, less the idle {r['idle_cpu_pct']:.1f} % of a core); {r['strokes_per_s']:.1f} strokes/s; "
          f"page load p50 {r['load_s'][0]:.2f} s, p95 {r['load_s'][1]:.2f} s, "
          f"server CPU {r['cpu_per_load_ms']:.0f} ms/page load")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--strokes", type=int, default=40, help="strokes per visitor (default 40)")
    p.add_argument("--idle", type=float, default=5.0, help="seconds to measure the idle CPU rate")
    p.add_argument("--class-size", type=int, default=0, help="then this many visitors drawing at once")
    p.add_argument("--class-strokes", type=int, default=10, help="strokes per visitor in the class")
    p.add_argument("--skip-baseline", action="store_true")
    return p


def main():
    args = parser().parse_args()
    args.class_size = min(args.class_size, 60)  # bounded: every visitor is a Chromium page here
    results = {}
    for name in ([] if args.skip_baseline else ["sketchpad"]) + ["pad"]:
        with launch(*APPS[name]["cmd"], timeout=300) as (url, proc):
            results[name] = asyncio.run(measure(name, url, proc, args.strokes, args.idle))
            show(results[name])
            if name == "pad" and args.class_size:
                show(asyncio.run(measure(name, url, proc, args.class_strokes, args.idle, visitors=args.class_size)))
    if "sketchpad" in results:
        ours, base = results["pad"], results["sketchpad"]
        print(f"pad / sketchpad: latency median {ours['median'] / base['median']:.3f}x, "
              f"server CPU per stroke {ours['cpu_per_stroke_ms'] / max(base['cpu_per_stroke_ms'], 1e-9):.3f}x")


if __name__ == "__main__":
    main()
