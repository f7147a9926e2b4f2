"""Drives the Draw tab's pad in Chromium as a person would: mouse strokes, touch strokes, the
Undo and Clear buttons; and reads back what the page computed."""

from __future__ import annotations

import base64
import os
import re
import shutil
from pathlib import Path

import numpy as np
from playwright.sync_api import expect

from mnist_demo.preprocess import RECIPE

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--disable-quic"]
# tests/.screenshots, where they were kept before this module moved out of tests/
SCREENSHOTS = Path(os.environ.get("SCREENSHOT_DIR", Path(__file__).resolve().parents[2] / "tests" / ".screenshots"))
SIDE = RECIPE["pad_side"]
DESKTOP = dict(viewport={"width": 1280, "height": 1000})
PHONE = dict(viewport={"width": 390, "height": 844}, device_scale_factor=2, has_touch=True, is_mobile=True)
TABLET = dict(viewport={"width": 768, "height": 1024}, device_scale_factor=2, has_touch=True, is_mobile=True)

# Strokes in fractions of the pad (0..1, 0..1), as a person would draw each digit.
DIGITS = {
    "1": [[(0.50, 0.15), (0.50, 0.85)]],
    "7": [[(0.28, 0.18), (0.72, 0.18), (0.45, 0.85)]],
    "0": [[(0.50, 0.15), (0.30, 0.30), (0.27, 0.55), (0.35, 0.80), (0.50, 0.86), (0.65, 0.80),
           (0.73, 0.55), (0.70, 0.30), (0.50, 0.15)]],
    "4": [[(0.62, 0.15), (0.25, 0.60), (0.78, 0.60)], [(0.62, 0.30), (0.62, 0.88)]],
}

READ_PAD = """() => {
  const api = document.querySelector('#pad .pad').parentElement.mnistPad;
  const alpha = window.MnistRecipe.alphaOf(api.ink());
  let bin = '';
  for (let i = 0; i < alpha.length; i += 8192) bin += String.fromCharCode.apply(null, alpha.subarray(i, i + 8192));
  const digit = api.digit();
  const cards = Object.fromEntries([...document.querySelectorAll('#pad .model-card')].map(
    c => [c.id.replace('card-', ''), c.dataset.label === undefined ? null : Number(c.dataset.label)]));
  return {ink: btoa(bin), digit: digit && Array.from(digit), labels: cards};
}"""


PAGE_READY_MS = 20_000  # a page's first render, at most (a person on a slow phone would wait too)


def open_app(browser, app_url, init_script=None, requests=None, **context):
    """A new page (with its own storage) on the app, its pad ready. ``init_script`` runs before the
    page's own; ``requests``, a list, receives (method, url) of every request the page makes."""
    page = browser.new_page(**context)
    if init_script:
        page.add_init_script(init_script)
    if requests is not None:
        page.on("request", lambda request: requests.append((request.method, request.url)))
    page.goto(app_url, wait_until="load")
    # Gradio renders its components after "load": on a busy machine (CI's workers beside one
    # another), seconds after it.
    expect(page.locator("#pad .pad-canvas")).to_be_visible(timeout=PAGE_READY_MS)
    expect(page.locator("#pad .pad-frame.empty")).to_be_visible()  # the pad's script has run
    return page


# Nothing on top of the pad: Gradio's translucent loading veil covers the whole app until the app
# is ready, which on a busy machine is a moment after the pad's script has run (a stroke begun under
# it is lost: seen in CI). A person sees the veil; the tests wait for it to go, as Playwright's own
# clicks wait for their target to receive the pointer.
PAD_TAKES_INPUT = """() => {
  const pad = document.querySelector('#pad .pad-canvas'), box = pad.getBoundingClientRect();
  const top = document.elementFromPoint(box.x + box.width / 2, box.y + box.height / 2);
  return top !== null && pad.parentElement.contains(top);
}"""


def pad_box(page):
    """The pad's top-left corner in the page and its scale (page pixels per ink pixel), once it takes input."""
    page.wait_for_function(PAD_TAKES_INPUT)
    box = page.locator("#pad .pad-canvas").bounding_box()
    return box["x"], box["y"], box["width"] / SIDE


def mouse_actions(box, strokes, unit=True, steps=8):
    """Strokes as mouse actions ("move", x, y, steps) / ("down",) / ("up",) in page pixels.
    Points are in fractions of the pad (unit=True) or in pad pixels (0..SIDE)."""
    x0, y0, scale = box
    k = SIDE * scale if unit else scale
    for stroke in strokes:
        yield "move", x0 + stroke[0][0] * k, y0 + stroke[0][1] * k, 1
        yield ("down",)
        for x, y in stroke[1:] or stroke[:1]:
            yield "move", x0 + x * k, y0 + y * k, steps
        yield ("up",)


def draw(page, strokes, unit=True, steps=8):
    """Mouse strokes (see mouse_actions)."""
    for action, *args in mouse_actions(pad_box(page), strokes, unit, steps):
        if action == "move":
            page.mouse.move(*args[:2], steps=args[2])
        else:
            getattr(page.mouse, action)()


def touch_draw(page, strokes, steps=8):
    """Finger strokes through Chromium's touch input (what a phone sends)."""
    x0, y0, scale = pad_box(page)
    k = SIDE * scale
    cdp = page.context.new_cdp_session(page)

    def touch(kind, *point):
        cdp.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": [{"x": x, "y": y} for x, y in point]})

    for stroke in strokes:
        points = [(x0 + x * k, y0 + y * k) for x, y in stroke]
        touch("touchStart", points[0])
        for (ax, ay), (bx, by) in zip(points, points[1:], strict=False):
            for t in np.linspace(0, 1, steps + 1)[1:]:
                touch("touchMove", (ax + (bx - ax) * t, ay + (by - ay) * t))
        touch("touchEnd")
    cdp.detach()


def read_pad(page) -> dict:
    """What the page holds: the ink canvas's alpha (SIDE x SIDE uint8), its 28x28 (or None),
    and each card's label (None when blank)."""
    return pad_reading(page.evaluate(READ_PAD))


def pad_reading(r: dict) -> dict:
    ink = np.frombuffer(base64.b64decode(r["ink"]), dtype=np.uint8).reshape(SIDE, SIDE)
    digit = None if r["digit"] is None else np.asarray(r["digit"], np.float32).reshape(28, 28)
    return {"ink": ink, "digit": digit, "labels": r["labels"]}


def card(page, name):
    return page.locator(f"#pad #card-{name}")


def expect_blank(page, name):
    """The card shows "Draw a digit" (its placeholder is in every card, hidden unless blank) and
    carries no answer (the page contract: no data-label while nothing is drawn)."""
    expect(card(page, name).locator(".placeholder")).to_be_visible()
    expect(card(page, name).locator(".placeholder")).to_have_text("Draw a digit")  # not "Asking the server…"
    expect(card(page, name)).not_to_have_attribute("data-label", re.compile(".*"))


def screenshot(page, name):
    """A full-page PNG in tests/.screenshots (or $SCREENSHOT_DIR), for a person to look at. Not on
    CI, where nobody would, unless $SCREENSHOT_DIR asks for them."""
    if os.environ.get("CI") and "SCREENSHOT_DIR" not in os.environ:
        return
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def switch_theme(page, scheme: str) -> None:
    """The browser's colour scheme changes ("light" or "dark"), and Gradio's page, which follows the
    system's unless its URL names a theme, follows it. Returns once Gradio's dark class says so and
    the colours' CSS transitions have settled (on a busy machine a fixed pause caught a radio
    label halfway between the two themes)."""
    page.emulate_media(color_scheme=scheme)
    page.wait_for_function("dark => document.body.classList.contains('dark') === dark", arg=scheme == "dark",
                           timeout=10_000)
    page.wait_for_timeout(100)
    page.wait_for_function("() => document.getAnimations().every(a => !(a instanceof CSSTransition) "
                           "|| a.playState !== 'running')", timeout=10_000)


def navigate(page, url: str | None = None, tries: int = 3) -> None:
    """Opens ``url`` in ``page`` (None: reloads it). Right after its server restarted, Gradio may be
    reloading the page itself (when one of its requests failed meanwhile), which aborts ours
    (net::ERR_ABORTED, or the frame detached): then ours is made again, once the page has loaded."""
    from playwright.sync_api import Error as PlaywrightError

    for attempt in range(tries):
        try:
            page.reload() if url is None else page.goto(url)
            return
        except PlaywrightError as error:
            if attempt == tries - 1 or not re.search(r"ERR_ABORTED|detached|interrupted", str(error)):
                raise
            page.wait_for_load_state()


def open_tab_until(page, tab: str, locator: str, count: int, seconds: float = 20) -> None:
    """Open ``tab`` until ``locator`` matches ``count`` elements. Right after its server restarted,
    a page may be reloaded by Gradio itself (when one of its requests failed meanwhile), which
    opens the Draw tab again: then the tab is opened again."""
    from playwright.sync_api import Error as PlaywrightError

    for _ in range(int(seconds * 2)):
        try:
            button = page.get_by_role("tab", name=tab)
            if button.get_attribute("aria-selected", timeout=2_000) != "true":
                button.click(timeout=2_000)
            if page.locator(locator).count() == count:
                return
        except PlaywrightError:  # the page is reloading under us
            pass
        page.wait_for_timeout(500)
    expect(page.locator(locator)).to_have_count(count, timeout=1)  # says what it found
