"""axe-core (through axe-playwright-python, which bundles it) on every tab, in the light and dark
themes and on a phone: no serious or critical violation, except the few that belong to Gradio's
own components and that no theme or CSS can reach (docs/accessibility.md lists them)."""

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from benchmarks.harness.pad import DESKTOP, DIGITS, PHONE, TABLET, draw, open_app, touch_draw

pytestmark = pytest.mark.browser  # drives Chromium

TABS = ("Draw", "Your digits", "Class", "Train", "Look inside", "API")


def gradios_own(rule: str, node: dict) -> bool:
    """Violations inside Gradio's components: an empty component's placeholder is a <div> with an
    aria-label ("Empty value") and no role; gr.Image wraps its picture in a <button> with no name."""
    html = node.get("html", "")
    if rule == "aria-prohibited-attr":
        return 'aria-label="Empty value"' in html
    if rule == "button-name":
        return any("image-container" in part for part in node["target"][0].split(" "))
    return False


def open_tab(page, name: str) -> None:
    """Click a tab, through Gradio's "More tabs" menu where a phone has no room for it."""
    tab = page.get_by_role("tab", name=name, exact=True)
    if not tab.is_visible():
        page.get_by_role("button", name="More tabs").click()
        tab = page.locator(".overflow-dropdown button", has_text=name)
    tab.click()


def serious_violations(page) -> list[str]:
    found = []
    for violation in Axe().run(page).response["violations"]:
        if violation["impact"] not in ("serious", "critical"):
            continue
        for node in violation["nodes"]:
            if not gradios_own(violation["id"], node):
                found.append(f"{violation['id']} at {node['target']}: {node.get('failureSummary', '')[:200]}")
    return found


LONG = pytest.mark.long  # the dark theme and a phone: the journeys marked long, which every CI run runs too


@pytest.mark.parametrize("mode, context", [("light", dict(DESKTOP, color_scheme="light")),
                                           pytest.param("dark", dict(DESKTOP, color_scheme="dark"), marks=LONG),
                                           pytest.param("phone", dict(PHONE, color_scheme="light"), marks=LONG)],
                         ids=["light", "dark", "phone"])
def test_no_serious_violation_on_any_tab_and_no_other_host_asked(browser, app_url, mode, context):
    """Also: everything the page loads (scripts, styles, fonts, weights) comes from the app's own
    address, so a school network without internet serves it whole."""
    asked = []
    page = open_app(browser, app_url, requests=asked, **context)
    # A drawing first: the answer cards, their "% sure" line and "Wrong?" row are then shown.
    (touch_draw if mode == "phone" else draw)(page, DIGITS["7"])
    if mode == "phone":  # a finger's target: every tab, and Gradio's "More tabs", at least 44 px each way
        sizes = page.locator('button[role="tab"], .overflow-menu > button').evaluate_all(
            "bs => bs.filter(b => b.offsetParent).map(b => [b.getBoundingClientRect().width, "
            "b.getBoundingClientRect().height])")
        assert len(sizes) >= 3 and min(min(w, h) for w, h in sizes) >= 44, sizes
    found = {}
    for tab in TABS:
        if tab != "Draw":
            open_tab(page, tab)
            page.wait_for_timeout(300)
        found[tab] = serious_violations(page)
    page.close()
    assert not any(found.values()), found
    own = app_url.split("/")[2]
    assert asked and [url for _, url in asked if url.split("/")[2] != own] == []


@pytest.mark.long
def test_no_serious_violation_on_a_class_teachers_controls_and_its_wall(browser, app_url):
    """The teacher's controls with a drawing to moderate, the projector wall showing it, and the
    students' pages (a 390x844 phone and a 768x1024 tablet, each with its class line), in the light
    theme and then the dark one (the same pages, their colour scheme switched)."""
    teacher = browser.new_page(**DESKTOP, color_scheme="light")
    teacher.goto(app_url, wait_until="load")
    expect(teacher.locator("#pad .pad-frame.empty")).to_be_visible()
    open_tab(teacher, "Class")
    teacher.locator("#class-start").click()
    expect(teacher.locator("#class-join-link")).to_be_visible(timeout=15_000)
    join = teacher.locator("#class-join-link").get_attribute("href")
    student = browser.new_page(**PHONE, color_scheme="light")  # students: a phone and a tablet, by touch
    tablet = browser.new_page(**TABLET, color_scheme="light")
    for page in (student, tablet):
        page.goto(join, wait_until="load")
        expect(page.locator("#class-line")).to_have_attribute("data-state", "joined", timeout=15_000)
    touch_draw(student, DIGITS["7"])
    student.locator('#pad .keep-digits button[data-keep="7"]').tap()
    expect(student.locator("#class-line")).to_contain_text("1 sent", timeout=15_000)
    expect(teacher.locator("#class-drawings [data-drawing-id]")).to_have_count(1, timeout=15_000)
    for page in (student, tablet):  # a finger's target: every Keep button at least 44 px each way
        sizes = page.locator("#pad .keep-digits button").evaluate_all(
            "bs => bs.map(b => [b.getBoundingClientRect().width, b.getBoundingClientRect().height])")
        assert min(min(w, h) for w, h in sizes) >= 44, sizes
    wall = browser.new_page(viewport={"width": 1920, "height": 1080}, color_scheme="light")
    wall.goto(teacher.locator("#class-wall-link").get_attribute("href"), wait_until="load")
    expect(wall.locator("#class-count")).to_have_attribute("data-count", "1", timeout=15_000)
    found = {}
    for scheme in ("light", "dark"):
        for name, page in (("teacher", teacher), ("wall", wall), ("phone", student), ("tablet", tablet)):
            page.emulate_media(color_scheme=scheme)
            page.wait_for_timeout(300)
            found[f"{name} {scheme}"] = serious_violations(page)
    for page in (teacher, student, tablet, wall):
        page.close()
    assert not any(found.values()), found
