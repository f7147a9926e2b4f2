"""The Train tab's "This device" mode, through the real app in Chromium: the linear model trains in
the page on 1,000 digits, no Gradio request goes out from Start to done, and the weights the page
offers for download score in Python what the page said (on the same validation digits).

One test on purpose: Chromium is the suite's dearest part. The page's logic is tested under Node
(tests/js/page_training_ui.test.js) and the data files in process (tests/test_page_data.py)."""

from __future__ import annotations

import base64
import re

import numpy as np
import pytest
import torch
from playwright.sync_api import expect

from benchmarks.harness.pad import DIGITS, card, draw, open_app
from mnist_demo.evaluation import evaluate
from mnist_demo.page_trainer import VALID_EVERY
from mnist_demo.weights import load_weights

pytestmark = pytest.mark.browser
DESKTOP = {"viewport": {"width": 1366, "height": 768}}
# A wake lock that counts what it is asked (headless Chromium grants none).
WAKE_LOCK = """Object.defineProperty(navigator, "wakeLock", { value: { request: async () => {
  window.wakeLocks = (window.wakeLocks || 0) + 1;
  return { release: async () => { window.wakeLocksReleased = (window.wakeLocksReleased || 0) + 1; } };
} } });"""


def test_the_page_trains_the_linear_model_without_asking_the_server(browser, app_url, mnist, tmp_path):
    page = open_app(browser, app_url, init_script=WAKE_LOCK, **DESKTOP)
    page.evaluate("performance.setResourceTimingBufferSize(100000)")
    # A Start pressed before the Train tab's scripts load (one is held back here) reaches the server
    # with "This device" chosen: refused with a sentence, and nothing trains there.
    page.route("**/train_box.js", lambda route: route.abort())
    page.get_by_role("tab", name="Train", exact=True).click()
    page.locator("#train-start").click()
    expect(page.locator("#train-model")).to_contain_text("This page's trainer has not loaded yet")
    # and under Start, where a phone's visitor is looking (tests/test_train_tab.py: nothing queued)
    expect(page.locator("#train-progress")).to_contain_text("This page's trainer has not loaded yet")
    expect(page.locator("#page-trainer .pt-status")).to_have_text("Getting this device's trainer ready…")
    expect(page.locator("#page-trainer")).not_to_have_attribute("data-ready", "true")
    page.unroute("**/train_box.js")
    page.reload()
    expect(page.locator("#pad .pad-frame.empty")).to_be_visible()  # the pad's script has run
    draw(page, DIGITS["7"])
    expect(card(page, "linear")).to_have_attribute("data-label", "7")
    page.locator('#pad .keep-digits button[data-keep="7"]').click()  # one kept digit: held out to measure
    expect(page.locator("#digits-summary")).to_contain_text("1 kept")
    page.get_by_role("tab", name="Train", exact=True).click()
    expect(page.locator("#page-trainer")).to_have_attribute("data-ready", "true")  # its scripts loaded
    expect(page.locator("#page-trainer")).to_have_attribute("data-state", "idle")
    expect(page.locator("#train-where input[value='This device']")).to_be_checked()
    page.locator("#train-model input[value='linear']").check()
    page.locator("#train-include input").check()
    for control, value in (("#train-subset", "1000"), ("#train-epochs", "1")):
        page.locator(f"{control} input[type=number]").fill(value)
        page.locator(f"{control} input[type=number]").press("Enter")
    # The first download fails: a sentence and a retry, which then trains.
    page.route("**/mnist-data/manifest.json", lambda route: route.abort())
    page.locator("#train-start").click()
    expect(page.locator("#page-trainer")).to_have_attribute("data-state", "failed", timeout=10_000)
    expect(page.locator(".pt-status")).to_contain_text("Could not get the training digits")
    page.unroute("**/mnist-data/manifest.json")
    page.locator(".pt-retry").click()
    expect(page.locator("#page-trainer")).to_have_attribute("data-state", "done", timeout=40_000)
    assert page.evaluate("[window.wakeLocks, window.wakeLocksReleased]") == [2, 2]  # asked while training, given back
    # Every request the page began between Start and done: none but the training digits' (pad.js
    # asks which server it talks to on a pointerdown and every 10 s, but not while the page trains).
    sent = page.evaluate("""() => {
      const api = [...document.querySelectorAll('*')].find((e) => e.pageTrainer).pageTrainer;
      return performance.getEntriesByType('resource')
        .filter((e) => e.startTime >= api.startedAt() && e.startTime <= api.endedAt())
        .map((e) => e.name);
    }""")
    assert sent and [url for url in sent if "/mnist-data/" not in url] == []
    # And a tap while it trains asks nothing either (that window is too short to be sure of above).
    checks = "performance.getEntriesByType('resource').filter((e) => e.name.endsWith('/app_id')).length"
    page.locator("#page-trainer").evaluate("box => { box.dataset.state = 'running'; }")
    page.wait_for_timeout(2100)  # past pad.js's 2 s between two checks
    before = page.evaluate(checks)
    page.locator("#train-progress").dispatch_event("pointerdown")
    page.wait_for_timeout(300)
    assert page.evaluate(checks) == before
    page.locator("#page-trainer").evaluate("box => { box.dataset.state = 'done'; }")
    assert page.locator("#page-trainer").get_attribute("data-workers") == "1"
    assert 10e6 < int(page.locator("#page-trainer").get_attribute("data-downloaded")) < 12e6  # once, compressed
    verdict = page.locator(".pt-verdict").inner_text()
    said = float(re.search(r"Linear: ([\d.]+) %", verdict).group(1)) / 100
    assert re.search(r"your held-out digits (0|100) %", verdict), verdict  # the one kept digit, held out

    link = page.locator("a#page-trainer-download-linear")
    assert link.get_attribute("download") == "linear.safetensors"
    with page.expect_download() as info:
        link.click()
    path = tmp_path / "linear.safetensors"
    info.value.save_as(path)
    model, meta = load_weights(path, expect="linear")
    _, acc = evaluate(model, torch.tensor(mnist.x_valid[::VALID_EVERY]), torch.tensor(mnist.y_valid[::VALID_EVERY]))
    assert abs(acc - said) < 1e-3, (acc, said)  # the same digits, float32 in both: equal but for rounding
    assert float(meta["valid_acc"]) == pytest.approx(said, abs=5e-5) and acc > 0.7
    assert np.isfinite(float(meta["valid_loss"]))
    # and the command line fine-tunes from it, as from any weights file it is given
    from mnist_demo.train import main as train_command
    assert train_command(["--model", "linear", "--init", str(path), "--dry-run", "--out", str(tmp_path / "cli")]) == 0

    # The pad answers with the new weights, which are "my trained weights" now.
    page.get_by_role("tab", name="Draw", exact=True).click()
    expect(card(page, "linear")).to_contain_text("your weights", timeout=10_000)
    expect(page.locator("#weights-linear input[value='my trained weights']")).to_be_checked(timeout=10_000)

    # Twelve more kept digits (MNIST's own, as the store keeps them): the fine-tune below has digits
    # of the visitor's to train on and a quarter held out.
    stored = np.clip(np.round(mnist.x_valid * 256), 0, 255).astype(np.uint8)
    extra = [{"id": 10_000 + int(i), "label": int(mnist.y_valid[i]), "pixels": base64.b64encode(stored[i]).decode()}
             for i in np.flatnonzero(np.isin(mnist.y_valid, [1, 4]))[:12]]
    page.evaluate("""(extra) => { const r = JSON.parse(localStorage.getItem('mnist-draw-train'));
      r.digits.push(...extra); localStorage.setItem('mnist-draw-train', JSON.stringify(r)); }""", extra)

    # After a reload the digits come from the browser's store; a browser without Web Workers
    # trains on the page's own thread, and says so. Stop keeps what was trained: a longer run,
    # stopped once it has begun, is measured and offered.
    page.add_init_script("delete window.Worker;")
    page.reload()
    page.get_by_role("tab", name="Train", exact=True).click()
    expect(page.locator("#page-trainer")).to_have_attribute("data-ready", "true")
    page.locator("#train-model input[value='linear']").check()
    for control, value in (("#train-subset", "50000"), ("#train-epochs", "5")):
        page.locator(f"{control} input[type=number]").fill(value)
        page.locator(f"{control} input[type=number]").press("Enter")
    page.locator("#train-start").click()
    expect(page.locator(".pt-progress")).to_contain_text("step", timeout=10_000)  # the digits kept: no download
    expect(page.locator(".pt-status")).to_contain_text("this browser has no Web Workers")
    assert page.locator("#page-trainer").get_attribute("data-workers") == "0"
    page.locator("#train-stop").click()
    expect(page.locator("#page-trainer")).to_have_attribute("data-state", "stopped", timeout=10_000)
    assert page.locator("#page-trainer").get_attribute("data-downloaded") == "0"  # a second training downloads nothing
    expect(page.locator(".pt-verdict")).to_contain_text(re.compile(r"^Stopped after \d+ s on this device\. Linear: "))
    expect(page.locator("a#page-trainer-download-linear")).to_be_visible()

    # From the shipped weights with my digits: the fine-tune keeps the epoch that reads my held-out
    # digits best within a point of MNIST, or the shipped weights, and says which (finetune.py's rule).
    page.locator("#train-start-from").get_by_label("shipped weights").check()
    expect(page.locator("#train-epochs input[type=number]")).to_have_value("3")  # the fine-tune recipe
    page.locator("#train-include input").check()
    for control, value in (("#train-subset", "1000"), ("#train-epochs", "2")):
        page.locator(f"{control} input[type=number]").fill(value)
        page.locator(f"{control} input[type=number]").press("Enter")
    # The page fetches the shipped weights as the run begins (page_assets.shipped_urls): when they
    # cannot be had, it says so before training anything, and its retry button tries again.
    page.route("**/*.safetensors", lambda route: route.fulfill(status=404, body="No such file: reload the page."))
    page.locator("#train-start").click()
    expect(page.locator(".pt-status")).to_contain_text("Could not get the shipped weights (the server answered 404)")
    expect(page.locator("#page-trainer")).to_have_attribute("data-state", "failed")
    page.unroute("**/*.safetensors")
    page.locator(".pt-retry").click()
    expect(page.locator("#page-trainer")).to_have_attribute("data-state", "done", timeout=40_000)
    verdict = page.locator(".pt-verdict").inner_text()
    assert re.search(r"Linear: [\d.]+ % on 2,000 validation digits \(every 10th\) \(it started at [\d.]+ %\)",
                     verdict), verdict
    kept = re.search(r"Linear: the fine-tune kept epoch [12] of 2 epochs: your held-out digits \d+ % → \d+ %, "
                     r"MNIST validation ([\d.]+) % → ([\d.]+) % \(within a point\)", verdict)
    assert kept or "Linear: the fine-tune tried 2 epochs, but none kept" in verdict, verdict
    if kept:  # within a point of where it started, on the digits the page measures
        started, ended = (float(x) / 100 for x in kept.groups())
        assert started - ended <= 0.01 + 1e-9, (started, ended)
    page.close()
