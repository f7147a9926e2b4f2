"""axe-core (through axe-playwright-python, which bundles it) on every tab, in the light and dark
themes and on a phone: no serious or critical violation, except the few that belong to Gradio's
own components and that no theme or CSS can reach (docs/accessibility.md lists them). A class's
pages (the teacher's view, the wall, a student's phone and tablet) are checked in
tests/test_class_projector.py, on a class of their own."""

import pytest
from axe_playwright_python.sync_playwright import DEFAULT_OPTIONS, Axe
from playwright.sync_api import expect

from benchmarks.harness.pad import DESKTOP, DIGITS, PHONE, draw, open_app, switch_theme, touch_draw

pytestmark = pytest.mark.browser  # drives Chromium

TABS = ("Draw", "Your digits", "Class", "Train", "Look inside", "API")


def gradios_own(rule: str, node: dict) -> bool:
    """Violations inside Gradio's components: an empty component's placeholder is a <div> with an
    aria-label ("Empty value") and no role. (gr.Image's picture in a <button> with no name was one
    too, until Look inside drew its pictures as named <img>s.)"""
    return rule == "aria-prohibited-attr" and 'aria-label="Empty value"' in node.get("html", "")


def open_tab(page, name: str) -> None:
    """Click a tab, through Gradio's "More tabs" menu where a phone has no room for it."""
    tab = page.get_by_role("tab", name=name, exact=True)
    if not tab.is_visible():
        page.get_by_role("button", name="More tabs").click()
        tab = page.locator(".overflow-dropdown button", has_text=name)
    tab.click()


AXE = Axe()  # the library's bundled axe-core


def serious_violations(page) -> list[str]:
    """axe-core's serious and critical violations on the page as it is now. Its 570 kB script is
    put in once per document (Axe.run would again at every call: a test runs it on every tab)."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(AXE.axe_script)
    found = []
    for violation in page.evaluate("options => axe.run(options)", DEFAULT_OPTIONS)["violations"]:
        if violation["impact"] not in ("serious", "critical"):
            continue
        for node in violation["nodes"]:
            if not gradios_own(violation["id"], node):
                found.append(f"{violation['id']} at {node['target']}: {node.get('failureSummary', '')[:200]}")
    return found


LONG = pytest.mark.long  # a phone: the journeys marked long, which every CI run runs too


@pytest.mark.parametrize("device", ["desktop", pytest.param("phone", marks=LONG)])
def test_no_serious_violation_on_any_tab_and_no_other_host_asked(browser, app_url, device):
    """Every tab, on a desktop in the light theme and then the dark (the browser's colour scheme,
    which Gradio follows), and on a phone in the light theme. Also: everything the page loads
    (scripts, styles, fonts, weights) comes from the app's own address, so a school network
    without internet serves it whole."""
    asked = []
    page = open_app(browser, app_url, requests=asked, color_scheme="light",
                    **{"desktop": DESKTOP, "phone": PHONE}[device])
    # A drawing first: the answer cards, their "% sure" line and "Wrong?" row are then shown.
    (touch_draw if device == "phone" else draw)(page, DIGITS["7"])
    if device == "phone":  # a finger's target: every tab, and Gradio's "More tabs", at least 44 px each way
        sizes = page.locator('button[role="tab"], .overflow-menu > button').evaluate_all(
            "bs => bs.filter(b => b.offsetParent).map(b => [b.getBoundingClientRect().width, "
            "b.getBoundingClientRect().height])")
        assert len(sizes) >= 3 and min(min(w, h) for w, h in sizes) >= 44, sizes
    found = {}
    for theme in ("light", "dark") if device == "desktop" else ("light",):
        if theme == "dark":
            switch_theme(page, "dark")
        for tab in TABS:
            if (theme, tab) != ("light", "Draw"):
                open_tab(page, tab)
                page.wait_for_timeout(300)
            if tab == "Look inside":  # its pictures come from the server: checked once they are there
                expect(page.locator(".inside-picture img")).to_have_count(7, timeout=15_000)
            found[theme, tab] = serious_violations(page)
    page.close()
    assert not any(found.values()), found
    own = app_url.split("/")[2]
    assert asked and [url for _, url in asked if url.split("/")[2] != own] == []
