"""A whole lesson, as a teacher and their students take it in Chromium, in the light theme: the
teacher starts a class, projects the wall (1280x720, a second tab of their own browser), and pauses
and resumes it; a phone (by touch) and a tablet join by the link, a laptop by the code; they keep
drawings, which the wall shows (the laptop's, sent once back from a Wi-Fi drop, and counted in its
second tab too); the server is killed while the phone keeps one, and that drawing still reaches the
wall, once, while the idle tablet's own digits are given back to the new server; the laptop deletes
one of its digits, and it leaves the wall and stays deleted after a reload; the teacher's page,
reloaded, is the teacher's again; a late phone finds the class locked and is told so; the teacher
removes a drawing, trains and gives the class its model, which the phone takes in one tap and keeps
after a reload; the teacher ends the class, and everything is gone.

Everything each person needs is checked where they would look for it: the wall's QR code is read
off a screenshot by a standard decoder, every teacher button's text contrast is measured, and the
phone's class line must be in view."""

import collections
import json
import re

import cv2
import numpy as np
import pytest
from playwright.sync_api import expect

from benchmarks.harness.launcher import free_port, launch
from benchmarks.harness.pad import (
    DESKTOP,
    DIGITS,
    PHONE,
    TABLET,
    draw,
    navigate,
    open_tab_until,
    screenshot,
    touch_draw,
)
from mnist_demo.classes.store import Classroom

pytestmark = [pytest.mark.browser, pytest.mark.slow]  # drives Chromium for about two minutes

LABELS = ["1", "7", "0", "4"]  # the digits pad_driver can draw
LIGHT = "__theme=light"
PROJECTOR = {"width": 1280, "height": 720}
LAPTOP = dict(viewport={"width": 1366, "height": 768})  # a school laptop's screen

# WCAG's contrast ratio of each visible button's text against the first opaque background behind it.
BUTTON_CONTRASTS = """(root) => {
  const rgba = (c) => (c.match(/[\\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => {
    const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const background = (el) => {
    for (; el; el = el.parentElement) {
      const c = rgba(getComputedStyle(el).backgroundColor);
      if (c.length === 3 || c[3] > 0.5) return c;
    }
    return [255, 255, 255];
  };
  return [...document.querySelectorAll(root + " button")].filter((b) => b.offsetParent !== null
      && b.getBoundingClientRect().width > 0 && b.textContent.trim()).map((b) => {
    const [l1, l2] = [lum(rgba(getComputedStyle(b).color)), lum(background(b))].sort((a, c) => c - a);
    return [b.textContent.trim(), (l1 + 0.05) / (l2 + 0.05)];
  });
}"""


# Whether the element's centre is the element itself (nothing drawn over it).
UNCOVERED = """(selector) => { const el = document.querySelector(selector), b = el.getBoundingClientRect();
  return el.contains(document.elementFromPoint(b.x + b.width / 2, b.y + b.height / 2)); }"""


def keep(page, label, by_touch=False):
    (touch_draw if by_touch else draw)(page, DIGITS[label], steps=3)  # a brisk hand
    button = page.locator(f'#pad .keep-digits button[data-keep="{label}"]')
    button.tap() if by_touch else button.click()
    expect(page.locator("#pad .pad-status")).to_have_text(f"Kept as a {label}. Draw the next one.")


def line(page):
    return page.locator("#class-line")


def sent(page, n, seconds=15):
    expect(line(page)).to_contain_text(re.compile(rf"\b{n} sent to the class"), timeout=seconds * 1000)
    expect(line(page)).to_have_attribute("data-pending", "0")


def in_view(page, selector):
    box, size = page.locator(selector).first.bounding_box(), page.viewport_size
    return box is not None and box["y"] >= 0 and box["y"] + box["height"] <= size["height"] and box["x"] >= 0 \
        and box["x"] + box["width"] <= size["width"]


def wall_drawings(wall) -> list[tuple[str, str]]:
    return wall.locator("#class-wall [data-drawing-id]").evaluate_all(
        "els => els.map(e => [e.dataset.drawingId, e.dataset.label])")


def read_qr(page, frames: int = 3) -> str:
    """The QR code on the page as a phone camera reads it: from a screenshot, by OpenCV's decoder,
    a few frames apart (as a camera keeps trying) while the page may still be settling."""
    text = ""
    for _ in range(frames):
        picture = cv2.imdecode(np.frombuffer(page.screenshot(), np.uint8), cv2.IMREAD_COLOR)
        text, _, _ = cv2.QRCodeDetector().detectAndDecode(picture)
        if text:
            return text
        page.wait_for_timeout(500)
    return text


def low_contrast(page, root):
    return [(text, round(ratio, 2)) for text, ratio in page.evaluate(BUTTON_CONTRASTS, root) if ratio < 4.5]


def test_a_lesson_from_start_to_end(browser, tmp_path):
    port, data = free_port(), tmp_path / "data"
    env = {"MNIST_DATA_DIR": str(data), "MNIST_MAX_DIGITS": "1000"}  # the class's training within a small cap
    with launch("app.py", port=port, env=env, log=tmp_path / "app.log") as (url, server):
        # 1. The teacher starts a class and projects the wall.
        teacher = browser.new_context(**DESKTOP).new_page()
        teacher.goto(f"{url}?{LIGHT}")
        teacher.get_by_role("tab", name="Class").click()
        teacher.locator("#class-start").click()
        join_link = teacher.locator("#class-join-link")
        expect(join_link).to_be_attached(timeout=10_000)
        join_url = join_link.first.get_attribute("href")
        teacher_url = teacher.locator("#class-teacher-link").get_attribute("href")
        wall_url = teacher.locator("#class-wall-link").get_attribute("href")
        code = re.search(r"class=(\w+)", join_url).group(1)
        # The wall in a second tab of the teacher's own browser, dragged to the projector: it shares
        # the teacher's storage, and must leave the teacher's seat in it alone (step 7).
        wall = teacher.context.new_page()
        wall.set_viewport_size(PROJECTOR)
        wall.goto(f"{wall_url}&{LIGHT}")
        expect(wall.locator("#class-count")).to_have_attribute("data-count", "0", timeout=15_000)
        assert teacher_url.split("teach=")[1] not in wall.content()  # the projector shows no secret
        assert read_qr(wall) == join_url  # scanned off the projector, from the back of the room
        for needed in ("#class-wall .qr", "#class-count", "#class-wall .code"):
            assert in_view(wall, needed), needed
        # The wall paused (one button, now saying Resume, and Show the held drawings beside it) and
        # End's confirmation open too: every button measured; then the wall resumed.
        teacher.locator("#class-pause").click()
        expect(teacher.locator("#class-pause")).to_have_text("Resume the wall", timeout=10_000)
        expect(teacher.locator("#class-show-held")).to_be_visible()
        teacher.locator("#class-ask-end").click()
        expect(teacher.locator("#class-end")).to_be_visible()
        assert low_contrast(teacher, "#class-tab") == []
        teacher.locator("#class-cancel-end").click()
        teacher.locator("#class-pause").click()
        expect(teacher.locator("#class-pause")).to_have_text("Pause the wall", timeout=10_000)
        expect(teacher.locator("#class-show-held")).to_be_hidden()

        # 2. Students join: a phone (by touch) and a tablet by the link, a laptop by the code.
        phone = browser.new_context(**PHONE).new_page()
        tablet = browser.new_context(**TABLET).new_page()
        laptop = browser.new_context(**LAPTOP).new_page()
        for page in (phone, tablet):
            page.goto(f"{join_url}&{LIGHT}")
            expect(line(page)).to_have_attribute("data-state", "joined", timeout=15_000)
            expect(line(page)).to_contain_text(f"class {code[:3]} {code[3:]}")
        assert in_view(phone, "#class-line") and in_view(phone, '#pad .keep-digits button[data-keep="9"]')
        laptop.goto(f"{url}?{LIGHT}")
        laptop.get_by_role("tab", name="Class").click()
        laptop.locator("#class-code textarea, #class-code input").first.fill(f"{code[:3].lower()} {code[3:]}")
        laptop.locator("#class-join").click()
        expect(laptop.locator("#class-status")).to_contain_text("You are in class", timeout=10_000)
        laptop.get_by_role("tab", name="Draw").click()
        expect(line(laptop)).to_have_attribute("data-state", "joined")
        assert in_view(laptop, "#class-line") and in_view(laptop, '#pad .keep-digits button[data-keep="9"]')
        # The laptop's student has the app open in a second tab too: the same class, the same count.
        second_tab = laptop.context.new_page()
        second_tab.goto(f"{url}?{LIGHT}")
        expect(line(second_tab)).to_have_attribute("data-state", "joined", timeout=15_000)
        laptop.bring_to_front()  # the student draws in the first; the second waits behind it, hidden

        # 3. They keep drawings, and the wall shows them. The school's Wi-Fi drops for the laptop
        # meanwhile: its drawings wait, and go when it is back, each sent once by one of its two
        # tabs (they share what waits) and counted once in both.
        keeps_sent = []
        laptop.context.on("requestfinished", lambda r: keeps_sent.append(r) if "component_server" in r.url
                          and '"kind":"keep"' in (r.post_data or "") else None)
        laptop.context.set_offline(True)
        for k in range(4):
            keep(phone, LABELS[k % 4], by_touch=True)
            keep(tablet, LABELS[(k + 1) % 4], by_touch=True)
            keep(laptop, LABELS[(k + 2) % 4])
        expect(line(laptop)).to_have_attribute("data-pending", "4")
        expect(line(second_tab)).to_contain_text("waiting to send (4): no connection")  # (it has not tried)
        laptop.context.set_offline(False)
        for page in (phone, tablet, laptop, second_tab):
            sent(page, 4)
        # Each of the laptop's drawings sent, by one tab at a time: a repeat can only be a drawing a
        # tab saw still waiting as the other finished (each tab's copy of localStorage hears of the
        # other's writes a moment late); the class stores it once (the wall's 12 below) and each
        # tab counts it once ("4 sent" above). Both tabs sending everything would make 8.
        ids = collections.Counter(json.loads(r.post_data)["data"]["id"] for r in keeps_sent)
        assert len(ids) == 4 and sum(ids.values()) <= 5, ids
        second_tab.close()
        expect(wall.locator("#class-count")).to_have_attribute("data-count", "12", timeout=5_000)
        assert len({i for i, _ in wall_drawings(wall)}) == 12
        screenshot(phone, "lesson-phone")

        # 4. The server dies (kill -9) while the phone keeps a drawing: the line says it waits.
        server.kill()
        server.wait()
        keep(phone, "7", by_touch=True)
        expect(line(phone)).to_have_attribute("data-state", "waiting", timeout=5_000)
        expect(line(phone)).to_have_attribute("data-pending", "1")
        expect(line(phone)).not_to_contain_text("5 sent")
        assert in_view(phone, "#class-line")
        # Gradio's "connection lost" toast would sit over the phone's second row of Keep buttons:
        # the page hides it there, and every Keep button can still be tapped.
        lost = phone.locator(".toast-body", has_text="Connection to the server was lost")
        expect(lost).to_be_attached(timeout=15_000)
        expect(lost).to_be_hidden()
        assert phone.evaluate(UNCOVERED, '#pad .keep-digits button[data-keep="9"]')
        screenshot(phone, "lesson-phone-outage")

    # 5. The server is back (same address, same data folder): the waiting drawing arrives, once.
    # Gradio's page notices the server is back by polling, with growing pauses, and then reloads
    # itself; on a loaded machine (the gate's four workers) that and the page's start took over 15 s.
    with launch("app.py", port=port, env=env, log=tmp_path / "app2.log") as (url, _):
        sent(phone, 5, seconds=60)
        navigate(wall)  # (Gradio may be reloading it itself: it asked the server while it was down)
        expect(wall.locator("#class-count")).to_have_attribute("data-count", "13", timeout=15_000)
        shown = wall_drawings(wall)
        assert len(shown) == 13 and len({i for i, _ in shown}) == 13
        with Classroom(data) as store:
            assert store.count(code) == 13
        # The tablet sat idle through the restart: its own digits are still there, given back to
        # the new server by the page (page/store.js), never lost with the old server's sessions.
        open_tab_until(tablet, "Your digits", "#my-digits .kept", 4)
        tablet.context.close()  # done: an open Gradio page costs CPU even idle (tests/conftest.py)

        # 6. The laptop deletes one of its digits in Your digits: it leaves the class too.
        open_tab_until(laptop, "Your digits", "#my-digits [data-remove]", 4)
        mine = laptop.locator("#my-digits [data-remove]")
        withdrawn = mine.first.get_attribute("data-remove")
        mine.first.click()
        expect(wall.locator("#class-count")).to_have_attribute("data-count", "12", timeout=15_000)
        expect(wall.locator(f'#class-wall [data-drawing-id="{withdrawn}"]')).to_have_count(0)
        navigate(laptop)  # and the deletion is kept in the laptop's browser too
        expect(laptop.locator("#digits-summary")).to_contain_text("3 kept", timeout=15_000)
        laptop.context.close()

        # 7. The teacher's page, reloaded as it was (the app's address), finds the teacher's view
        # again from the seat its browser kept; the teacher locks joining; a latecomer's phone is
        # told so, in view.
        navigate(teacher)
        expect(teacher.locator("#class-lock")).to_be_visible(timeout=10_000)
        teacher.locator("#class-lock").click()
        expect(teacher.locator("#class-lock")).to_have_text("Unlock joining", timeout=10_000)
        late = browser.new_context(**PHONE).new_page()
        late.goto(f"{join_url}&{LIGHT}")
        expect(line(late)).to_have_attribute("data-state", "locked", timeout=15_000)
        expect(line(late)).to_contain_text("not taking new students")
        assert in_view(late, "#class-line")
        late.context.close()

        # 8. The teacher removes a drawing, trains on the class and gives it the model; the phone
        # takes it in one tap, and keeps it after a reload.
        expect(teacher.locator("#class-drawings [data-drawing-id]")).to_have_count(12, timeout=10_000)
        gone = teacher.locator("#class-drawings [data-drawing-id]").first.get_attribute("data-drawing-id")
        teacher.locator(f'#class-drawings [data-remove="{gone}"]').click()
        expect(wall.locator("#class-count")).to_have_attribute("data-count", "11", timeout=5_000)
        # The server's path (the projector's test trains on This device): it must keep working.
        teacher.locator("#class-train-where input[value='The server']").check()
        teacher.locator("#class-train").click()
        expect(teacher.locator("#class-publish")).to_be_visible(timeout=180_000)
        teacher.locator("#class-publish").click()
        expect(teacher.locator("#class-progress")).to_contain_text("Given to the class", timeout=10_000)
        use = phone.locator("#class-line .class-line-action")
        expect(use).to_have_text("Use our class’s model", timeout=15_000)  # within the bar of 10 s, and a tick
        use.tap()
        for name in ("linear", "cnn"):
            expect(phone.locator(f"#card-{name} .source")).to_have_text("· your class's model", timeout=10_000)
        navigate(phone)
        for name in ("linear", "cnn"):
            expect(phone.locator(f"#card-{name} .source")).to_have_text("· your class's model", timeout=15_000)
        expect(line(phone)).to_contain_text("Answering with our class’s model")
        touch_draw(phone, DIGITS["7"])
        expect(phone.locator("#card-cnn")).to_have_attribute("data-label", re.compile(r"\d"))
        # (that the next class tick leaves the choice alone: tests/test_class_pages.py)
        screenshot(phone, "lesson-phone-class-model")
        screenshot(teacher, "lesson-teacher")
        screenshot(wall, "lesson-wall")

        # 9. The teacher ends the class, and everything is gone; the phone is told.
        teacher.locator("#class-ask-end").click()
        teacher.locator("#class-end").click()
        expect(teacher.locator("#class-status")).to_contain_text("has ended", timeout=10_000)
        expect(wall.locator("#class-wall")).to_contain_text("This class has ended", timeout=5_000)
        expect(line(phone)).to_have_attribute("data-state", "ended", timeout=15_000)
    with Classroom(data) as store:
        assert store.classes() == [] and store.count(code) == 0
