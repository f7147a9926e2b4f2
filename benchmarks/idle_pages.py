"""What open, idle pages of the app cost their browser: Chromium's CPU while N pages sit idle, as
the app serves them (page/calm_frames.js first in the page) against the same pages with that
script taken out (Gradio's status tracker asking for 60 frames a second for as long as a page is
open), in one run against one server.

    python -m benchmarks.idle_pages                 # 3 pages, 10 s each way
    python -m benchmarks.idle_pages --pages 1 --seconds 20
"""

from __future__ import annotations

import argparse
import contextlib
import os
import time
from pathlib import Path

from .harness.launcher import cpu_seconds, free_port, launch
from .harness.pad import ARGS, CHROMIUM


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m benchmarks.idle_pages", description=__doc__.split("\n\n")[0])
    p.add_argument("--pages", type=int, default=3)
    p.add_argument("--seconds", type=float, default=10.0)
    return p


def descendants_cpu(pid: int) -> float:
    """CPU seconds (user + system) of every living process below ``pid``."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        with contextlib.suppress(OSError, ValueError):
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            children.setdefault(parent, []).append(int(entry.name))
    total, todo = 0.0, list(children.get(pid, []))
    while todo:
        p = todo.pop()
        with contextlib.suppress(OSError):  # gone since
            total += cpu_seconds(p)
        todo.extend(children.get(p, []))
    return total


def idle_cost(browser, url: str, pages: int, seconds: float, strip: bytes | None) -> float:
    """Chromium's CPU share (of one core) while ``pages`` pages of ``url`` sit idle; with ``strip``,
    that text is taken out of the page as it arrives."""
    def without(route):
        answer = route.fetch()
        route.fulfill(response=answer, body=answer.body().replace(strip, b""))

    opened = []
    for _ in range(pages):
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        page = context.new_page()
        if strip:
            page.route(url, without)
        page.goto(url)
        page.wait_for_selector("#pad .pad-status", timeout=60_000)
        opened.append(context)
    time.sleep(3)  # their start, done
    before, start = descendants_cpu(os.getpid()), time.monotonic()
    time.sleep(seconds)
    used = descendants_cpu(os.getpid()) - before
    share = used / (time.monotonic() - start)
    for context in opened:
        context.close()
    return share


def main(argv: list[str] | None = None) -> None:
    from playwright.sync_api import sync_playwright

    from mnist_demo.page_head import first_scripts

    args = parser().parse_args(argv)
    with launch("app.py", port=free_port()) as (url, _server), sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        ours = idle_cost(browser, url, args.pages, args.seconds, None)
        gradio = idle_cost(browser, url, args.pages, args.seconds, first_scripts())
        browser.close()
    print(f"[idle pages] {args.pages} idle pages for {args.seconds:.0f} s: Chromium {100 * ours:.1f} % of a core "
          f"(without calm_frames.js: {100 * gradio:.1f} %; {ours / max(gradio, 1e-9):.2f}x)")


if __name__ == "__main__":
    main()
