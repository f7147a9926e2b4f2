"""A class's pages as a projector and a mirrored teacher's screen show them, in Chromium: the
wall's QR code read back from a screenshot, whole and large, with the code and the count in view
at 1280x720 and 1024x768; its bars to scale; every button of the teacher's view legible (WCAG AA,
4.5:1) in both themes, with axe on the teacher's view, the wall and a student's phone and tablet
(their Keep buttons a finger's size); "all theirs" asking in the page first; the teacher link
hidden until Show; the class's model trained in the teacher's page and given to the class. The
app runs on a data folder of its own, whose class is made directly in its database (as the host's
CLI would)."""

import json
import re

import numpy as np
import pytest
from playwright.sync_api import expect

from benchmarks.harness.launcher import launch
from benchmarks.harness.pad import PHONE, TABLET, screenshot, switch_theme
from mnist_demo.classes.store import Classroom
from tests.test_accessibility import serious_violations
from tests.test_class_lesson import read_qr

pytestmark = pytest.mark.browser  # drives Chromium

PER_DIGIT = {1: 3, 7: 4, 3: 6, 0: 2}  # a 3-count and a 4-count, whose bars must differ
THEMES = ("light", "dark")


@pytest.fixture(scope="module")
def lesson(tmp_path_factory):
    """(app url, class) with 15 drawings from two students, the first with 6 of them."""
    data = tmp_path_factory.mktemp("projector-data")
    with Classroom(data) as room:
        new = room.create_class()
        students = [room.join(new.code, "a"), room.join(new.code, "b")]
        rng, i = np.random.default_rng(0), 0
        for label, n in PER_DIGIT.items():
            for _ in range(n):
                i += 1
                student = students[i > 6]
                room._keeps.forget([student])  # not a rate test
                room.add_drawing(new.code, student, i, label, label if i % 3 else (label + 1) % 10, label,
                                 rng.integers(0, 256, 784, dtype=np.uint8).tobytes())
    with launch("app.py", env={"MNIST_DATA_DIR": str(data)}) as (url, _):
        yield url, new, data


# The wall and the teacher's view are one page each, that the module's tests take turns on (each
# page opened costs the gate seconds of CPU), in light colours that follow the browser's colour
# scheme, as on a laptop set to its system's: a test switches it with switch_theme, and the next
# test finds it light again (``wall``, ``teacher``), whatever the last one did or failed to do.


@pytest.fixture(scope="module")
def shared_wall(browser, lesson, shared_pages):
    url, new, _ = lesson
    page = browser.new_page(viewport={"width": 1280, "height": 720}, color_scheme="light")
    with shared_pages.hold(page):
        page.goto(f"{url}?wall={new.wall_token}", wait_until="load")
        expect(page.locator("#class-count")).to_have_attribute("data-count", "15", timeout=20_000)
        page.wait_for_timeout(300)  # fonts and layout settled
        yield page


@pytest.fixture
def wall(shared_wall):
    """The wall at 1280x720, light."""
    shared_wall.set_viewport_size({"width": 1280, "height": 720})
    switch_theme(shared_wall, "light")
    return shared_wall


@pytest.fixture(scope="module")
def shared_teacher(browser, lesson, shared_pages):
    url, new, _ = lesson
    page = browser.new_page(viewport={"width": 1280, "height": 900}, color_scheme="light")
    with shared_pages.hold(page):
        page.goto(f"{url}?teach={new.teacher_token}", wait_until="load")
        expect(page.locator("#class-ask-end")).to_be_visible(timeout=20_000)
        expect(page.locator("#class-drawings [data-drawing-id]")).to_have_count(15, timeout=10_000)
        yield page


@pytest.fixture
def teacher(shared_teacher):
    """The teacher's view, light."""
    switch_theme(shared_teacher, "light")
    return shared_teacher


def in_view(box, width, height) -> bool:
    return box is not None and box["x"] >= 0 and box["y"] >= 0 and box["x"] + box["width"] <= width + 0.5 \
        and box["y"] + box["height"] <= height + 0.5


def test_the_wall_on_a_projector_qr_code_whole_and_large_bars_to_scale_and_axe_in_both_themes(wall):
    """One wall, as a projector shows it at 1280x720 and 1024x768 (its QR code read back off a
    screenshot, the code, the count and every panel in view) and at 1366x768 (its bars to scale),
    then in the dark theme: axe finds nothing serious in either."""
    page = wall
    link = page.locator("#class-join-link").get_attribute("href")
    for width, height in ((1280, 720), (1024, 768)):
        page.set_viewport_size({"width": width, "height": height})
        page.wait_for_timeout(300)  # laid out again
        text = read_qr(page)  # as a phone's camera reads it, off a screenshot
        assert text == link, f"read {text!r} at {width}x{height}"
        qr = page.locator("#class-wall .qr svg").bounding_box()
        # The whole wall is on the screen: nobody scrolls a projector.
        boxes = {"qr": qr, "code": page.locator("#class-wall header .code").bounding_box(),
                 "count": page.locator("#class-count").bounding_box(),
                 **{part: page.locator(f"#class-wall .{part}").bounding_box()
                    for part in ("wall-counts", "wall-newest", "wall-confusion", "wall-scores")}}
        assert all(in_view(b, width, height) for b in boxes.values()), (width, height, boxes)
        assert qr["height"] >= height / 4 and qr["height"] >= 720 / 4, (width, height, qr)
        print(f"QR at {width}x{height}: {qr['width']:.0f}x{qr['height']:.0f} px")
        assert page.evaluate("() => window.scrollY") == 0
    # Dark on white with its quiet zone: the SVG's own white square, 4 modules on every side.
    assert page.locator("#class-wall .qr svg").evaluate(
        "s => s.viewBox.baseVal.width - s.querySelector('path').getBBox().width") == 0

    page.set_viewport_size({"width": 1366, "height": 768})
    page.wait_for_timeout(300)
    height = {d: page.locator(f'#class-wall .wall-bar[data-digit="{d}"] .fill').bounding_box()["height"]
              for d in range(10)}
    assert height[1] < height[7] < height[3]  # 3, 4 and 6 drawings
    assert height[1] / height[3] == pytest.approx(3 / 6, abs=0.03)
    assert height[7] / height[3] == pytest.approx(4 / 6, abs=0.03)
    assert height[2] == 0 and height[0] > 0

    page.set_viewport_size({"width": 1280, "height": 720})
    found = {"light": serious_violations(page)}
    switch_theme(page, "dark")
    found["dark"] = serious_violations(page)
    assert not any(found.values()), found


CONTRAST = """els => {
  const parse = (c) => { const m = c.match(/rgba?\\(([^)]+)\\)/); if (!m) return null;
    const p = m[1].split(/[\\s,\\/]+/).filter(Boolean).map(Number);
    return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1]; };
  const over = (top, under) => top.slice(0, 3).map((v, i) => v * top[3] + under[i] * (1 - top[3])).concat([1]);
  const background = (el) => {  // the first opaque background up the tree, translucent ones laid on it
    const layers = [];
    for (let n = el; n; n = n.parentElement) {
      const c = parse(getComputedStyle(n).backgroundColor);
      if (c && c[3] > 0) { layers.push(c); if (c[3] >= 1) break; }
    }
    let bg = [255, 255, 255, 1];
    if (layers.length && layers[layers.length - 1][3] >= 1) bg = layers.pop();
    while (layers.length) bg = over(layers.pop(), bg);
    return bg;
  };
  const lum = (c) => { const [r, g, b] = c.slice(0, 3).map((v) => { v /= 255;
    return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
  return els.filter((el) => el.offsetParent !== null && el.getClientRects().length).map((el) => {
    const bg = background(el), fg = over(parse(getComputedStyle(el).color), bg);
    const [a, b] = [lum(fg), lum(bg)].sort((x, y) => y - x);
    return {text: (el.innerText || el.getAttribute("aria-label") || "").trim().slice(0, 40), id: el.id,
            ratio: Math.round((a + 0.05) / (b + 0.05) * 100) / 100};
  });
}"""


def button_contrasts(page) -> list[dict]:
    return page.locator('[role="tabpanel"] button').evaluate_all(CONTRAST)


def test_the_teachers_view_passes_aa_and_axe_in_both_themes_and_hides_its_link_until_show(teacher, lesson):
    """The teacher's view in the light theme, then the dark: every button's text (End's question
    and "all theirs"'s Yes and No too) passes WCAG AA, 4.5:1, and axe finds nothing serious. Its
    private teacher link stays hidden until Show."""
    page = teacher
    link = page.locator("#class-teacher-link")
    assert "teach=" in link.get_attribute("href")
    expect(link).to_be_hidden()
    assert lesson[1].teacher_token not in page.locator("#class-teacher").inner_text()
    measured, found = [], {}
    for theme in THEMES:
        switch_theme(page, theme)
        before = button_contrasts(page)
        page.locator("#class-ask-end").click()
        expect(page.locator("#class-end")).to_be_visible()
        page.locator("#class-drawings [data-remove-student]").first.click()  # the in-page question's buttons too
        ask = page.locator("#class-drawings .ask-theirs")
        expect(ask).to_be_visible()
        after = button_contrasts(page)
        shown = {b["text"] for b in after}
        assert {"End the class…", "End it and delete everything", "Yes", "No"} <= shown, (theme, shown)
        measured += [dict(b, theme=theme) for b in before + after]
        print(theme, "lowest", min(b["ratio"] for b in before + after),
              sorted({(b["text"], b["ratio"]) for b in after if b["id"] in ("class-ask-end", "class-end")}))
        found[theme] = serious_violations(page)
        ask.get_by_role("button", name="No").click()  # both questions put away: nothing changed
        expect(ask).to_have_count(0)
        page.locator("#class-cancel-end").click()
        expect(page.locator("#class-end")).to_be_hidden()
    low = [b for b in measured if b["ratio"] < 4.5]
    assert not low, low
    assert not any(found.values()), found
    page.get_by_text("Show your private teacher link").click()
    expect(link).to_be_visible()


@pytest.mark.parametrize("device", ["phone", "tablet"])
def test_a_students_page_in_the_class_passes_axe_in_both_themes_and_fits_a_finger(browser, lesson, device):
    """A student who joined by the link, on a 390x844 phone or a 768x1024 tablet, the class line
    shown: axe finds nothing serious in the light theme or the dark, and every Keep button is at
    least 44 px each way."""
    url, new, _ = lesson
    page = browser.new_page(**{"phone": PHONE, "tablet": TABLET}[device], color_scheme="light")
    page.goto(f"{url}?class={new.code}", wait_until="load")
    expect(page.locator("#class-line")).to_have_attribute("data-state", "joined", timeout=20_000)
    sizes = page.locator("#pad .keep-digits button").evaluate_all(
        "bs => bs.map(b => [b.getBoundingClientRect().width, b.getBoundingClientRect().height])")
    assert len(sizes) == 10 and min(min(w, h) for w, h in sizes) >= 44, sizes
    found = {}
    for scheme in THEMES:
        switch_theme(page, scheme)  # axe judges the settled colours
        found[scheme] = serious_violations(page)
    page.close()
    assert not any(found.values()), found


def test_the_teacher_trains_the_class_model_on_this_device_and_gives_it_to_the_class(teacher, wall, lesson):
    """"Train on our class" with "This device" (the default): the teacher's page fetches the
    drawings, fine-tunes both shipped models on them (on 500 MNIST digits here, to be quick) and
    sends Gradio no event while it trains; "Give it to the class" uploads the weights, which reach
    the classroom and the wall with the figures the page showed."""
    url, new, data = lesson
    page = teacher
    expect(page.locator("#class-train-where input[value='This device']")).to_be_checked()
    expect(page.locator("#class-publish")).to_have_count(1)  # in the page, hidden until there is a model
    expect(page.locator("#class-publish")).to_be_hidden()
    expect(page.locator("#class-trainer")).to_have_attribute("data-ready", "true")  # its scripts loaded
    page.locator("#class-trainer").evaluate("box => { box.dataset.mnistLimit = '500'; }")
    # The events the server's path would send (its Train, Stop and Give buttons'): the page's own
    # ticks (the drawings' list every 2 s) go on, and are no training.
    config = page.request.get(f"{url}config").json()
    ids = {c["id"] for c in config["components"] if c.get("props", {}).get("elem_id") in
           ("class-train", "class-stop", "class-publish")}
    theirs = {i for i, d in enumerate(config["dependencies"]) if any(t[0] in ids for t in d["targets"])}
    assert len(theirs) >= 3
    events = []

    def record(request):
        if "/gradio_api/queue/join" in request.url:
            events.append(json.loads(request.post_data)["fn_index"])

    page.on("request", record)  # (taken off at the end: the page is the next test's too)
    page.locator("#class-train").click()
    trainer = page.locator("#class-trainer")
    expect(trainer).to_have_attribute("data-state", "done", timeout=60_000)
    assert not theirs & set(events), events  # the server was asked for the drawings and MNIST, and trained nothing
    verdict = page.locator("#class-trainer .pt-verdict").inner_text()
    assert re.search(r"^Linear: [\d.]+% → [\d.]+% on the class's 4 held-out drawings, MNIST [\d.]+% → [\d.]+% "
                     r"\(every 10th validation digit, 2,000\)", verdict), verdict
    expect(page.locator("#class-trainer .pt-acc")).to_contain_text("class held-out")
    expect(page.locator("#class-publish")).to_be_visible()
    screenshot(page, "projector-teacher-trained-here")
    page.locator("#class-publish").click()
    expect(page.locator("#class-trainer .pt-status")).to_contain_text("Given to the class", timeout=10_000)
    assert not theirs & set(events), events  # the upload is a plain request to its route, not a Gradio event
    with Classroom(data) as room:
        version, blobs, notes = room.class_models(new.code)
    assert version == 1 and set(blobs) == {"linear", "cnn"}
    linear = notes["linear"]
    assert linear["class_held_out"] == "4" and linear["valid_count"] == "2000"
    said = f"{float(linear['held_before']):.1%} → {float(linear['held_after']):.1%}"
    assert said in verdict, (said, verdict)
    expect(wall.locator(".wall-class-model")).to_contain_text(f"Linear: {float(linear['held_before']):.1%} → "
                                                              f"{float(linear['held_after']):.1%}", timeout=10_000)
    assert in_view(wall.locator(".wall-class-model").bounding_box(), 1280, 720)  # the whole wall still fits
    page.remove_listener("request", record)


# Last: it removes a student's drawings.
def test_all_theirs_asks_in_the_page_first(teacher, lesson):
    url, new, data = lesson
    page = teacher
    dialogs = []

    def refuse(dialog):  # a browser dialog would be the question asked outside the page
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", refuse)
    first = page.locator("#class-drawings [data-drawing-id]").first
    first.locator("[data-remove-student]").click()
    ask = first.locator(".ask-theirs")
    expect(ask).to_contain_text("Remove all 6 of theirs, and take them out of the class?")
    ask.get_by_role("button", name="No").click()
    expect(ask).to_have_count(0)
    expect(first.locator("[data-remove-student]")).to_be_visible()
    page.wait_for_timeout(500)
    with Classroom(data) as room:
        assert room.count(new.code) == 15  # No removed nothing
    first.locator("[data-remove-student]").click()
    ask.get_by_role("button", name="Yes").click()
    expect(page.locator("#class-drawings [data-drawing-id]")).to_have_count(9, timeout=10_000)
    with Classroom(data) as room:
        assert room.count(new.code) == 9
    page.remove_listener("dialog", refuse)
    assert dialogs == []  # asked in the page, never by a browser dialog
