"""End to end in a real browser, beyond the pad itself (tests/test_pad.py): the 3x3 grid,
training and then drawing with your own model, and the Look inside tab."""

import re

import pytest
from playwright.sync_api import expect

from benchmarks.harness.launcher import REPO
from benchmarks.harness.pad import DIGITS, PAGE_READY_MS, card, draw, navigate, open_app, screenshot
from mnist_demo.weights import load_weights

pytestmark = pytest.mark.browser  # drives Chromium

# Legend labels that a clipping ancestor (overflow other than visible) cuts off, inside a plot.
LEGEND_CLIPPED = """(selector) => {
  const plot = document.querySelector(selector), cut = [];
  for (const label of plot.querySelectorAll('.role-legend-label text, .role-legend-label')) {
    const r = label.getBoundingClientRect();
    for (let e = label.parentElement; e && e !== plot.parentElement; e = e.parentElement) {
      const b = e.getBoundingClientRect(), s = getComputedStyle(e);
      if (s.overflowY !== 'visible' && (r.bottom > b.bottom + 1 || r.top < b.top - 1)) cut.push(label.textContent);
    }
  }
  if (!plot.querySelector('.role-legend-label')) cut.push('no legend found');
  return cut;
}"""

# The pad keeps a finished training's weights in this browser (page/store.js's one key).
KEPT_CNN = """() => { const r = JSON.parse(localStorage.getItem('mnist-draw-train') || '{}');
  return !!(r.weights && r.weights.cnn); }"""


def test_validation_grid(pad):
    page = pad
    page.get_by_text("The tutorial's 3×3 grid").click()
    page.locator("#grid-button").click()
    expect(page.locator("#grid img")).to_have_count(9, timeout=20_000)
    expect(page.locator("#grid")).to_contain_text("true")


@pytest.mark.long
def test_train_stop_and_use_my_model(browser, app_url, pad):
    page = open_app(browser, app_url, viewport={"width": 1280, "height": 1100})
    draw(page, DIGITS["7"])
    shipped_card = card(page, "cnn")
    expect(shipped_card).to_have_attribute("data-label", "7")
    shipped_confidence = shipped_card.get_attribute("data-confidence")

    page.get_by_role("tab", name="Train").click()
    page.get_by_label("cnn", exact=True).check()
    page.locator("#train-subset input[type=number]").fill("50000")
    page.locator("#train-subset input[type=number]").press("Enter")
    page.locator("#train-epochs input[type=number]").fill("20")
    page.locator("#train-epochs input[type=number]").press("Enter")
    page.locator("#train-where input[value='The server']").check()  # this test is of the server's training
    page.locator("#train-start").click()
    expect(page.locator("#train-progress")).to_contain_text("epoch", timeout=30_000)
    expect(page.locator("#loss-plot canvas, #loss-plot svg").first).to_be_visible(timeout=15_000)
    page.locator("#train-stop").click()
    expect(page.locator("#train-progress")).to_contain_text("Stopped", timeout=20_000)
    expect(page.locator("#confusion table")).to_be_visible(timeout=20_000)
    expect(page.locator("#download a")).to_have_attribute("href", re.compile(r"cnn\.safetensors$"))
    for plot in ("#loss-plot", "#acc-plot"):  # the legends are shown whole, not clipped by the plots
        assert page.evaluate(LEGEND_CLIPPED, plot) == [], plot

    # The run's last step hands its weights to the pad (kept in this browser), after the results
    # show: on a busy machine, seconds after. A visitor's choice before then is answered the same.
    page.wait_for_function(KEPT_CNN, timeout=20_000)
    page.get_by_role("tab", name="Draw").click()
    page.locator("#weights-cnn").get_by_label("my trained weights").check()
    # The page receives the new weights and re-reads the same drawing with them.
    expect(shipped_card).to_contain_text("your weights", timeout=15_000)
    expect(shipped_card).not_to_have_attribute("data-confidence", shipped_confidence, timeout=15_000)
    screenshot(page, "my-model")
    page.locator("#weights-cnn").get_by_label("shipped").check()
    expect(shipped_card).to_have_attribute("data-confidence", shipped_confidence, timeout=15_000)

    # Another visitor (the module's page, a browser context of its own), opening the app after the
    # training, still gets the shipped model's answer.
    navigate(pad)
    expect(pad.locator("#pad .pad-frame.empty")).to_be_visible(timeout=PAGE_READY_MS)
    draw(pad, DIGITS["7"])
    expect(card(pad, "cnn")).to_have_attribute("data-confidence", shipped_confidence)
    page.close()


def test_look_inside_after_drawing(pad):
    page = pad
    draw(page, DIGITS["7"])
    expect(card(page, "cnn")).to_have_attribute("data-label", "7")
    page.get_by_role("tab", name="Look inside").click()
    for elem in ("templates", "evidence-top", "evidence-second", "filters", "maps-0", "maps-1", "maps-2"):
        expect(page.locator(f"#{elem} img")).to_be_visible(timeout=15_000)
    expect(page.locator("#evidence-note")).to_contain_text("evidence for 7")
    page.locator("#evaluate").click()
    expect(page.locator("#evaluation table").first).to_be_visible(timeout=30_000)
    _, meta = load_weights(REPO / "weights" / "cnn.safetensors", expect="cnn")  # what the shipped CNN recorded
    expect(page.locator("#evaluation")).to_contain_text(f"{float(meta['valid_acc']):.2%}")
    screenshot(page, "look-inside")


@pytest.mark.long
def test_a_waiting_visitor_sees_their_place_in_the_queue_and_can_leave_it(app_url, pad):
    """Every training slot taken (one per CPU): the next visitor is told where they stand, and Stop
    takes them out of the queue (their training never starts)."""
    import os
    import time

    from benchmarks.harness.client import api_client
    from mnist_demo.settings import from_env
    from tests.train_requests import controls
    busy = [api_client(app_url).submit(*controls(which="cnn", epochs=30, subset=50_000), api_name="/train")
            for _ in range(from_env(os.environ).max_trainings)]
    try:
        deadline = time.monotonic() + 60
        while any(len(job.outputs()) < 2 for job in busy) and time.monotonic() < deadline:
            time.sleep(0.2)
        page = pad  # the module's page: a visitor of its own
        page.get_by_role("tab", name="Train").click()
        page.get_by_label("linear", exact=True).check()
        page.locator("#train-where input[value='The server']").check()  # this test is of the server's training
        page.locator("#train-start").click()
        expect(page.locator("#train-progress")).to_contain_text(re.compile(r"queue: 1/1"), timeout=15_000)
        with page.expect_response(lambda r: "/run/" in r.url, timeout=10_000):  # Stop, heard before a slot frees
            page.locator("#train-stop").click()  # changed their mind: they leave the queue
    finally:
        for job in busy:
            job.cancel()
    expect(page.locator("#train-progress")).to_contain_text("Stopped while waiting for its turn: nothing was "
                                                            "trained.", timeout=30_000)
