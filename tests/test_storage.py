"""Nothing lost: a student on a phone keeps digits and reloads; the digits are still there,
because the browser keeps them (page/store.js) and gives them back to each new session (a server
restart's turn is in tests/test_class_lesson.py). And where the browser refuses storage, the page
says so and keeping still works."""

import pytest
from playwright.sync_api import expect

from benchmarks.harness.pad import DIGITS, PHONE, screenshot, touch_draw

pytestmark = pytest.mark.browser  # drives Chromium

KEPT = ["1", "7", "0"]


def finger_tap(page, locator):
    """A finger's tap on a button that is already on the screen: in view as the page stands, and
    still unscrolled afterwards. (Playwright's tap waits until the button holds still, so a
    layout that settles late under load cannot make the finger land beside it.)"""
    box = locator.bounding_box()
    assert 0 <= box["y"] and box["y"] + box["height"] <= page.viewport_size["height"], "not on the screen"
    locator.tap()
    assert page.evaluate("() => window.scrollY") == 0


def keep_by_touch(page, digits):
    """Draw and keep each digit with one finger, the page never scrolled: pad, answers and the
    Keep buttons are all on the phone's one screen."""
    for digit in digits:
        touch_draw(page, DIGITS[digit])
        finger_tap(page, page.locator(f'#pad .keep-digits button[data-keep="{digit}"]'))
        expect(page.locator("#pad .pad-status")).to_have_text(f"Kept as a {digit}. Draw the next one.")
        assert page.evaluate("() => window.scrollY") == 0


def summary(page):
    return page.locator("#digits-summary")


def test_kept_digits_survive_reloads_and_a_deletion_sticks(browser, app_url):
    """(A server restart's turn is in the lesson, tests/test_class_lesson.py: the tablet that sat
    idle through it still has its digits, and the laptop's deletion stays deleted.)"""
    context = browser.new_context(**PHONE, color_scheme="light")
    try:
        page = context.new_page()
        page.goto(app_url)
        expect(page.locator("#pad .pad-frame.empty")).to_be_visible()
        expect(page.locator("#pad .pad-storage")).to_contain_text("kept in this browser only")
        keep_by_touch(page, KEPT)
        expect(summary(page)).to_contain_text("3 kept")
        page.reload()
        expect(summary(page)).to_contain_text("3 kept (0: 1 · 1: 1 · 7: 1)")  # back from the browser
        page.reload()  # and Your digits opened at once, its restore maybe still on the way
        page.get_by_role("tab", name="Your digits").tap()
        expect(page.locator("#my-digits .kept")).to_have_count(3)
        page.locator("#my-digits .kept .remove").first.tap()  # a deletion is kept too
        expect(page.locator("#my-digits .kept")).to_have_count(2)
        page.reload()
        expect(summary(page)).to_contain_text("2 kept")
        screenshot(page, "storage-after-reload")
    finally:
        context.close()


def test_refused_storage_is_said_and_keeping_still_works(browser, app_url):
    context = browser.new_context(**PHONE)
    # A browser that denies the page storage (an embedded page in a private window, say).
    context.add_init_script("""Object.defineProperty(window, "localStorage", {
        get() { throw new DOMException("The operation is insecure.", "SecurityError"); } });""")
    page = context.new_page()
    page.goto(app_url)
    expect(page.locator("#pad .pad-frame.empty")).to_be_visible()
    expect(page.locator("#pad .pad-storage")).to_contain_text("keeps nothing for this page")
    touch_draw(page, DIGITS["1"])
    finger_tap(page, page.locator('#pad .keep-digits button[data-keep="1"]'))
    expect(page.locator("#pad .pad-status")).to_contain_text("does not let the page store anything")
    expect(summary(page)).to_contain_text("1 kept")  # the session has it while the tab is open
    context.close()
