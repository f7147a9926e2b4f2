"""Your own digits, end to end in Chromium, as a new user: draw and keep 20 digits, see
the models' accuracy on them, click a confusion cell and see those digits, fine-tune and see the
before/after, export, open a fresh session, import, and find the same collection."""

import re
import urllib.request

import numpy as np
import pytest
from playwright.sync_api import expect

from benchmarks.harness.pad import DESKTOP, DIGITS, PHONE, card, draw, open_app, screenshot, touch_draw
from mnist_demo.collection import held_out

pytestmark = pytest.mark.browser  # drives Chromium

KEPT = ["1", "7", "0", "4"] * 5  # 20 drawings, five of each


def kept_pictures(page) -> list[tuple[str, str]]:
    """(digit group, picture) for every kept digit shown, in order."""
    return page.evaluate("""() => [...document.querySelectorAll('#my-digits .kept')].map(
        f => [f.closest('.kept-group').dataset.digit, f.querySelector('img').src])""")


@pytest.mark.long
def test_keep_test_fine_tune_export_and_import(browser, app_url, tmp_path):
    page = open_app(browser, app_url, viewport={"width": 1280, "height": 1100})
    keep_buttons = page.locator("#pad .keep-digits button")
    expect(keep_buttons.first).to_be_disabled()  # nothing drawn, nothing to keep
    for digit in KEPT[:-1]:
        draw(page, DIGITS[digit], steps=3)  # a brisk hand: each mouse move is a frame the page answers
        page.locator(f'#pad .keep-digits button[data-keep="{digit}"]').click()
        expect(page.locator("#pad .pad-frame.empty")).to_be_visible()  # cleared for the next one
        expect(page.locator("#pad .pad-status")).to_have_text(f"Kept as a {digit}. Draw the next one.")
    # The last one through a card's "Wrong? It's a N": kept under the N the button shows.
    draw(page, DIGITS["4"], steps=3)
    fix = card(page, "linear").locator(".fix button").first
    fixed_as = fix.text_content()
    fix.click()
    expected = KEPT[:-1] + [fixed_as]
    counts = {d: expected.count(d) for d in sorted(set(expected))}
    expect(page.locator("#digits-summary")).to_contain_text(
        f"20 kept ({' · '.join(f'{d}: {n}' for d, n in counts.items())})")

    page.get_by_role("tab", name="Your digits").click()
    gallery = page.locator("#my-digits")
    expect(gallery.locator(".kept")).to_have_count(20)
    for d, n in counts.items():
        expect(gallery.locator(f'.kept-group[data-digit="{d}"] .kept')).to_have_count(n)
    expect(gallery.locator(".kept.held")).to_have_count(int(held_out(np.array(expected, dtype=int)).sum()))
    # Delete one; "Delete all…" asks first, and Cancel keeps everything.
    gallery.locator('.kept-group[data-digit="7"] .remove').first.click()
    expect(gallery.locator(".kept")).to_have_count(19)
    gallery.locator(".ask-clear").click()
    gallery.locator(".cancel-clear").click()
    expect(gallery.locator(".kept")).to_have_count(19)
    expect(page.locator("#digits-summary")).to_contain_text("19 kept")
    before = kept_pictures(page)

    # Test: per-digit accuracy, and the digits behind a confusion cell.
    page.locator("#test-digits").click()
    test = page.locator("#digit-test")
    expect(test.locator(".confusion-table")).to_have_count(4, timeout=30_000)
    expect(test.locator(".digit-test-table")).to_contain_text("all")
    cell = test.locator('[data-cell^="yours cnn 0 "]').first
    shown = int(cell.text_content())
    cell.click()
    expect(page.locator("#cell-digits")).to_contain_text("CNN on your digits:")
    expect(page.locator("#cell-digits img")).to_have_count(shown)
    mnist_cell = test.locator('[data-cell="mnist linear 4 9"]')
    mnist_cell.click()
    behind = int(mnist_cell.text_content())
    expect(page.locator("#cell-digits")).to_contain_text(f"{behind} digits that are 4 and it said 9")
    expect(page.locator("#cell-digits img")).to_have_count(min(behind, 60))
    screenshot(page, "digits-tab")

    # Fine-tune the shipped CNN on them: the recipe switches, and the result says before and after.
    page.get_by_role("tab", name="Train").click()
    page.get_by_label("cnn", exact=True).check()
    page.locator("#train-start-from").get_by_label("shipped weights").check()
    expect(page.locator("#train-epochs input[type=number]")).to_have_value("3")
    expect(page.locator("#train-preset")).to_contain_text("For trained weights")  # the chosen recipe's help
    expect(page.locator("#train-preset")).not_to_contain_text("one-cycle")
    page.locator("#train-include input").check()
    # The recipe's 10,000 MNIST digits are minutes of a busy CI machine's CPU: 2,000 show the same.
    page.locator("#train-subset input[type=number]").fill("2000")
    page.locator("#train-subset input[type=number]").press("Enter")
    page.locator("#train-where input[value='The server']").check()  # this test is of the server's training
    page.locator("#train-start").click()
    expect(page.locator("#train-progress")).to_contain_text("Finished", timeout=120_000)
    expect(page.locator("#train-progress")).to_contain_text(
        re.compile(r"CNN: MNIST validation 96\.75% → \d+\.\d\d%, your 4 held-out digits \d+% → \d+%"))
    screenshot(page, "fine-tune")

    # The test again, with the fine-tuned CNN (the linear model has no trained weights: shipped).
    page.get_by_role("tab", name="Your digits").click()
    page.locator("#test-weights").get_by_label("my trained weights").check()
    page.locator("#test-digits").click()
    expect(test).to_contain_text("CNN (your trained weights) on your digits", timeout=30_000)
    expect(test).to_contain_text("Linear (shipped weights) on your digits")

    # Export, then a fresh session imports the IDX pair and finds the same collection.
    page.locator("#export-digits").click()
    links = page.locator("#exported-digits a")
    expect(links).to_have_count(3, timeout=20_000)
    files = []
    for href in [links.nth(i).get_attribute("href") for i in range(3)]:
        name = re.sub(r".*/", "", href.split("?")[0])
        files.append(tmp_path / name)
        files[-1].write_bytes(urllib.request.urlopen(urllib.parse.urljoin(app_url, href)).read())
    assert sorted(f.name.split("-")[-1] for f in files) == ["png.zip", "ubyte.gz", "ubyte.gz"]
    page.close()

    fresh = open_app(browser, app_url, **DESKTOP)
    expect(fresh.locator("#digits-summary")).to_contain_text("none kept yet")
    fresh.get_by_role("tab", name="Your digits").click()
    fresh.locator("#import-digits input[type=file]").set_input_files([f for f in files if f.suffix == ".gz"])
    # The pad draws each digit from the same strokes, so equal drawings under one label are one
    # digit to the importer: each is imported once, and it says how many it skipped.
    unique = [list(p) for p in dict.fromkeys(map(tuple, before))]
    expect(fresh.locator("#import-status")).to_contain_text(
        f"Imported {len(unique)} digits; you have {len(unique)}. The files held {19 - len(unique)} copies")
    expect(fresh.locator("#my-digits .kept")).to_have_count(len(unique))
    assert sorted(kept_pictures(fresh)) == sorted(unique)
    expect(fresh.locator("#digits-summary")).to_contain_text(f"{len(unique)} kept")
    # A bad file: a clear sentence, and the collection is unchanged.
    bad = tmp_path / "notes.gz"
    bad.write_bytes(b"not a digit file")
    fresh.locator("#import-digits input[type=file]").set_input_files([bad])
    expect(fresh.locator("#import-status")).to_contain_text("Nothing imported. notes.gz: not an MNIST IDX file")
    expect(fresh.locator("#my-digits .kept")).to_have_count(len(unique))
    fresh.close()


def test_keeping_by_touch_on_a_phone_in_dark_mode(browser, app_url):
    page = open_app(browser, app_url + "?__theme=dark", **PHONE)
    touch_draw(page, DIGITS["7"])
    page.locator('#pad .keep-digits button[data-keep="7"]').tap()
    expect(page.locator("#digits-summary")).to_contain_text("1 kept (7: 1)")
    box = page.locator('#pad .keep-digits button[data-keep="9"]').bounding_box()
    assert box["width"] >= 24 and box["height"] >= 32  # a fingertip's target, ten across a phone
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # nothing wider than the phone
    screenshot(page, "keep-phone-dark")
    page.reload()  # kept in the browser, in the dark theme too (tests/test_storage.py: the light one)
    expect(page.locator("#digits-summary")).to_contain_text("1 kept (7: 1)")
    page.close()
