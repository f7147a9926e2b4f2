"""End to end in a real browser: Playwright driving Debian's Chromium against the launched app.
A person draws a 1, a 7 and a 0 with the mouse, reads both predictions and the 28x28 preview,
then clears the canvas."""

import os
import re
import shutil
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--disable-quic"]
SCREENSHOTS = Path(os.environ.get("SCREENSHOT_DIR", Path(__file__).parent / ".screenshots"))

# Strokes in fractions of the drawing area (0..1, 0..1), as a person would draw each digit.
DIGITS = {
    "1": [[(0.50, 0.15), (0.50, 0.85)]],
    "7": [[(0.28, 0.18), (0.72, 0.18), (0.45, 0.85)]],
    "0": [[(0.50, 0.15), (0.30, 0.30), (0.27, 0.55), (0.35, 0.80), (0.50, 0.86), (0.65, 0.80),
           (0.73, 0.55), (0.70, 0.30), (0.50, 0.15)]],
}


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def drawing_area(page):
    """The white canvas inside the Sketchpad's frame, in page pixels."""
    box = page.locator("#sketch canvas").first.bounding_box()
    side = min(box["width"], box["height"]) * 0.8
    return box["x"] + (box["width"] - side) / 2, box["y"] + (box["height"] - side) / 2, side


def draw(page, strokes):
    x0, y0, side = drawing_area(page)
    for stroke in strokes:
        page.mouse.move(x0 + stroke[0][0] * side, y0 + stroke[0][1] * side)
        page.mouse.down()
        for fx, fy in stroke[1:]:
            page.mouse.move(x0 + fx * side, y0 + fy * side, steps=12)
        page.mouse.up()


def open_app(browser, app_url, **context):
    page = browser.new_page(**context)
    page.goto(app_url, wait_until="load")
    expect(page.locator('#sketch button[aria-label="Brush"]')).to_be_visible()
    return page


@pytest.mark.parametrize("digit", DIGITS)
def test_draw_read_and_clear(browser, app_url, digit):
    page = open_app(browser, app_url, viewport={"width": 1280, "height": 1000})
    # No click on the Brush button: a visitor can draw at once.
    draw(page, DIGITS[digit])
    for name in ("linear", "cnn"):
        expect(page.locator(f'#card-{name} .model-card[data-label="{digit}"]')).to_be_visible(timeout=15_000)
    expect(page.locator("#verdict")).to_contain_text(f"Both models read {digit}")
    preview = page.locator("#preview img")
    expect(preview).to_be_visible()
    assert preview.evaluate("img => img.naturalWidth") == 28 * 8
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"draw-{digit}.png"), full_page=True)

    page.locator("#clear").click()
    expect(page.locator("#card-cnn .model-card")).not_to_have_attribute("data-label", digit, timeout=10_000)
    expect(page.locator("#card-cnn")).to_contain_text("Draw a digit")
    expect(page.locator("#preview img")).to_have_count(0)
    page.close()


def test_phone_viewport_draws_too(browser, app_url):
    page = open_app(browser, app_url, viewport={"width": 390, "height": 844}, device_scale_factor=2,
                    has_touch=True)
    x0, _, side = drawing_area(page)
    assert x0 >= 0 and x0 + side <= 390  # the canvas fits the screen
    draw(page, DIGITS["7"])
    expect(page.locator('#card-cnn .model-card[data-label="7"]')).to_be_visible(timeout=15_000)
    page.close()


def test_validation_grid(browser, app_url):
    page = open_app(browser, app_url, viewport={"width": 1280, "height": 1000})
    page.get_by_text("The tutorial's 3×3 grid").click()
    page.locator("#grid-button").click()
    expect(page.locator("#grid img")).to_have_count(9, timeout=20_000)
    expect(page.locator("#grid")).to_contain_text("true")
    page.close()


def test_train_stop_and_use_my_model(browser, app_url):
    page = open_app(browser, app_url, viewport={"width": 1280, "height": 1100})
    draw(page, DIGITS["7"])
    shipped_card = page.locator('#card-cnn .model-card[data-label]')
    expect(shipped_card).to_be_visible(timeout=15_000)
    shipped_confidence = shipped_card.get_attribute("data-confidence")

    page.get_by_role("tab", name="Train").click()
    page.get_by_label("cnn", exact=True).check()
    page.locator("#train-subset input[type=number]").fill("50000")
    page.locator("#train-subset input[type=number]").press("Enter")
    page.locator("#train-epochs input[type=number]").fill("20")
    page.locator("#train-epochs input[type=number]").press("Enter")
    page.locator("#train-start").click()
    expect(page.locator("#train-progress")).to_contain_text("epoch", timeout=30_000)
    expect(page.locator("#loss-plot canvas, #loss-plot svg").first).to_be_visible(timeout=15_000)
    page.locator("#train-stop").click()
    expect(page.locator("#train-progress")).to_contain_text("Stopped", timeout=20_000)
    expect(page.locator("#confusion table")).to_be_visible(timeout=20_000)
    expect(page.locator("#download a")).to_have_attribute("href", re.compile(r"cnn\.safetensors$"))

    page.get_by_role("tab", name="Draw").click()
    page.locator("#weights-cnn").get_by_label("my trained weights").check()
    expect(page.locator('#card-cnn .model-card[data-label]')).not_to_have_attribute(
        "data-confidence", shipped_confidence, timeout=15_000)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "my-model.png"), full_page=True)

    # Another visitor, meanwhile, still sees the shipped model's answer.
    other = open_app(browser, app_url, viewport={"width": 1280, "height": 1000})
    draw(other, DIGITS["7"])
    expect(other.locator('#card-cnn .model-card[data-label]')).to_have_attribute(
        "data-confidence", shipped_confidence, timeout=15_000)
    other.close()
    page.close()


def test_look_inside_after_drawing(browser, app_url):
    page = open_app(browser, app_url, viewport={"width": 1280, "height": 1000})
    draw(page, DIGITS["7"])
    expect(page.locator('#card-cnn .model-card[data-label="7"]')).to_be_visible(timeout=15_000)
    page.get_by_role("tab", name="Look inside").click()
    for elem in ("templates", "evidence-top", "evidence-second", "filters", "maps-0", "maps-1", "maps-2"):
        expect(page.locator(f"#{elem} img")).to_be_visible(timeout=15_000)
    expect(page.locator("#evidence-note")).to_contain_text("evidence for 7")
    page.locator("#evaluate").click()
    expect(page.locator("#evaluation table").first).to_be_visible(timeout=30_000)
    expect(page.locator("#evaluation")).to_contain_text("96.75%")  # the shipped CNN
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "look-inside.png"), full_page=True)
    page.close()
