"""A whole lesson, as a teacher and three students take it in Chromium: the teacher starts a
class; students join by link (one on a phone, by touch) and by code; they keep 30 drawings, which
the wall shows; the teacher removes one, trains and publishes, and a student's pad answers with
the class's model; the server restarts and everything is still there; the teacher ends the
class, and everything is gone."""

import re

import pytest
from playwright.sync_api import expect

from mnist_demo.classroom import Classroom
from tests.app_launcher import free_port, launch
from tests.pad_driver import DESKTOP, DIGITS, PHONE, draw, screenshot, touch_draw

pytestmark = [pytest.mark.browser, pytest.mark.long]  # drives Chromium for two minutes

LABELS = ["1", "7", "0", "4"]  # the digits pad_driver can draw
WALL = dict(viewport={"width": 1920, "height": 1080})


def keep(page, label, by_touch=False):
    (touch_draw if by_touch else draw)(page, DIGITS[label], steps=3)  # 30 drawings: a brisk hand
    button = page.locator(f'#pad .keep-digits button[data-keep="{label}"]')
    button.tap() if by_touch else button.click()
    expect(page.locator("#pad .pad-status")).to_have_text(f"Kept as a {label}. Draw the next one.")


def sent(page, n):
    expect(page.locator("#class-line")).to_contain_text(f"{n} sent from this page", timeout=10_000)


def wall_drawings(wall) -> list[tuple[str, str]]:
    return wall.locator("#class-wall [data-drawing-id]").evaluate_all(
        "els => els.map(e => [e.dataset.drawingId, e.dataset.label])")


def test_a_lesson_from_start_to_end(browser, tmp_path):
    port, data = free_port(), tmp_path / "data"
    env = {"MNIST_DATA_DIR": str(data), "MNIST_MAX_DIGITS": "2000"}  # the class's training within a small cap
    with launch("app.py", port=port, env=env, log=tmp_path / "app.log") as (url, _):
        # 1. The teacher starts a class.
        teacher = browser.new_context(**DESKTOP).new_page()
        teacher.goto(url)
        teacher.get_by_role("tab", name="Class").click()
        teacher.locator("#class-start").click()
        join_link = teacher.locator("#class-join-link")
        expect(join_link).to_be_visible(timeout=10_000)
        join_url = join_link.get_attribute("href")
        teacher_url = teacher.locator("#class-teacher-link").get_attribute("href")
        wall_url = teacher.locator("#class-wall-link").get_attribute("href")
        code = re.search(r"class=(\w+)", join_url).group(1)
        assert teacher.locator("#class-teacher .qr svg").count() == 1  # the QR, drawn by the server
        wall = browser.new_context(**WALL).new_page()
        wall.goto(wall_url)
        expect(wall.locator("#class-count")).to_have_attribute("data-count", "0", timeout=15_000)
        assert teacher_url.split("teach=")[1] not in wall.content()  # the projector shows no secret

        # 2. Three students join: a phone and a laptop by the link, another laptop by the code.
        phone = browser.new_context(**PHONE).new_page()
        laptop = browser.new_context(**DESKTOP).new_page()
        typed = browser.new_context(**DESKTOP).new_page()
        for page in (phone, laptop):
            page.goto(join_url)
            expect(page.locator("#class-line")).to_contain_text(f"Class {code[:3]} {code[3:]}", timeout=10_000)
        typed.goto(url)
        typed.get_by_role("tab", name="Class").click()
        typed.locator("#class-code textarea, #class-code input").first.fill(f"{code[:3].lower()} {code[3:]}")
        typed.locator("#class-join").click()
        expect(typed.locator("#class-status")).to_contain_text("You are in class", timeout=10_000)
        typed.get_by_role("tab", name="Draw").click()

        # 3. They keep 30 drawings, and the wall shows them.
        for k in range(10):
            keep(phone, LABELS[k % 4], by_touch=True)
            keep(laptop, LABELS[(k + 1) % 4])
            keep(typed, LABELS[(k + 2) % 4])
        for page in (phone, laptop, typed):
            sent(page, 10)
        expect(wall.locator("#class-count")).to_have_attribute("data-count", "30", timeout=5_000)
        shown = wall_drawings(wall)
        assert len(shown) == 30 and len({i for i, _ in shown}) == 30
        assert sorted(label for _, label in shown) == sorted(LABELS[(k + j) % 4] for k in range(10) for j in range(3))
        screenshot(wall, "class-wall")
        screenshot(phone, "class-phone")

        # 4. The teacher removes one drawing, trains and publishes; a student's pad answers with it.
        expect(teacher.locator("#class-drawings [data-drawing-id]")).to_have_count(30, timeout=5_000)
        gone = teacher.locator("#class-drawings [data-drawing-id]").first.get_attribute("data-drawing-id")
        teacher.locator(f'#class-drawings [data-remove="{gone}"]').click()
        expect(wall.locator("#class-count")).to_have_attribute("data-count", "29", timeout=5_000)
        expect(wall.locator(f'#class-wall [data-drawing-id="{gone}"]')).to_have_count(0)
        teacher.locator("#class-train").click()
        expect(teacher.locator("#class-publish")).to_be_visible(timeout=180_000)
        teacher.locator("#class-publish").click()
        expect(teacher.locator("#class-progress")).to_contain_text("Given to the class", timeout=10_000)
        choice = laptop.locator("#weights-cnn").get_by_label("our class's model")
        expect(choice).to_be_visible(timeout=10_000)  # the bar: within 10 s, without a reload
        choice.check()
        expect(laptop.locator("#card-cnn .source")).to_have_text("· your class's model", timeout=10_000)
        keep(laptop, "7")
        expect(wall.locator("#class-count")).to_have_attribute("data-count", "30", timeout=5_000)
        draw(laptop, DIGITS["7"])
        expect(laptop.locator("#card-cnn")).to_have_attribute("data-label", re.compile(r"\d"))
        screenshot(teacher, "class-teacher")

    # 5. The server restarts (same address, same data folder): everything is still there.
    with launch("app.py", port=port, env=env, log=tmp_path / "app2.log") as (url, _):
        wall.reload()
        expect(wall.locator("#class-count")).to_have_attribute("data-count", "30", timeout=15_000)
        laptop.reload()
        expect(laptop.locator("#class-line")).to_contain_text(f"Class {code[:3]} {code[3:]}", timeout=10_000)
        expect(laptop.locator("#weights-cnn").get_by_label("our class's model")).to_be_visible(timeout=10_000)
        keep(laptop, "1")
        sent(laptop, 1)
        expect(wall.locator("#class-count")).to_have_attribute("data-count", "31", timeout=5_000)

        # 6. The teacher ends the class (back through their private link), and everything is gone.
        teacher.goto(teacher_url)
        expect(teacher.locator("#class-ask-end")).to_be_visible(timeout=10_000)
        teacher.locator("#class-ask-end").click()
        teacher.locator("#class-end").click()
        expect(teacher.locator("#class-status")).to_contain_text("has ended", timeout=10_000)
        expect(wall.locator("#class-wall")).to_contain_text("This class has ended", timeout=5_000)
        expect(laptop.locator("#class-line")).to_contain_text("ended", timeout=10_000)
    with Classroom(data) as store:
        assert store.classes() == [] and store.count(code) == 0
