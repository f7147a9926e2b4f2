"""The class's HTML (classes/views.py): the page contract the wall's tests and scripts read, figures
that match a count by hand, and nothing secret in what a projector shows."""

import re

import numpy as np
import pytest

from mnist_demo.classes.store import Drawing
from mnist_demo.classes.views import cell_html, qr_svg, teacher_drawings_html, wall_html

JOIN = "http://192.168.1.20:7860/?class=ACD479"


def drawing(i, label, linear, cnn, student="s-secret-id"):
    return Drawing(drawing_id=1000 + i, student=student, label=label, linear=linear, cnn=cnn,
                   pixels=bytes([i % 256]) * 784, created=float(i), order=i + 1)


DRAWINGS = [drawing(0, 3, 3, 3), drawing(1, 3, 8, 3), drawing(2, 7, 7, 1), drawing(3, 1, 1, 1)]
ROWS = np.array([(d.label, d.linear, d.cnn) for d in DRAWINGS])
NEWEST = DRAWINGS[::-1]


def wall(valid=None):
    return wall_html("ACD479", ROWS, NEWEST, valid, JOIN)


def test_each_drawing_carries_the_page_contract():
    html = wall()
    found = re.findall(r'data-drawing-id="(\d+)" data-label="(\d)" data-linear="(\d)" data-cnn="(\d)"', html)
    assert sorted(found) == sorted((str(d.drawing_id), str(d.label), str(d.linear), str(d.cnn)) for d in DRAWINGS)
    assert 'id="class-count" data-count="4"' in html
    assert f'id="class-join-link" href="{JOIN}"' in html
    assert 'id="class-wall"' in html


def test_the_wall_shows_no_student_and_no_teacher_secret():
    html = wall()
    assert "s-secret-id" not in html and "teach=" not in html and "class-teacher-link" not in html


def test_scores_match_a_count_by_hand():
    valid = {n: np.eye(10, dtype=np.int64) * 10 for n in ("linear", "cnn")}  # 100% on MNIST
    valid["cnn"][7, 1] = 10  # the CNN reads half of MNIST's sevens as ones: 50% on 7
    html = wall(valid)
    overall = re.search(r'<tr class="all">(.*?)</tr>', html).group(1)
    # linear: 3 of 4 right (the second 3 read as 8); cnn: 3 of 4 (the 7 read as 1)
    assert re.findall(r"<b>(\d+%)</b> · (\d+%)", overall) == [("75%", "100%"), ("75%", "91%")]  # 100 of 110
    seven = re.search(r'<th scope="row">7</th>(.*?)</tr>', html).group(1)
    assert re.findall(r"<b>(.+?)</b> · (\d+%)", seven) == [("100%", "100%"), ("0%", "50%")]
    zero = re.search(r'<th scope="row">0</th>(.*?)</tr>', html).group(1)
    assert "<b>–</b>" in zero  # no drawings of 0: no figure, not 0%


def test_counts_per_digit():
    html = wall()
    counts = dict(re.findall(r'data-digit="(\d)"><span class="n">(\d+)</span>', html))
    assert counts == {str(d): str([0, 1, 0, 2, 0, 0, 0, 1, 0, 0][d]) for d in range(10)}


def test_confusion_cells_name_model_true_and_answer_and_show_their_drawings():
    html = wall()
    assert 'data-cell="linear 3 8"' in html and 'data-cell="cnn 7 1"' in html
    cell = cell_html(DRAWINGS, "linear", 3, 8)
    assert re.findall(r'data-drawing-id="(\d+)"', cell) == ["1001"]


def test_the_teacher_sees_the_oldest_first_each_with_its_remove_buttons():
    html = teacher_drawings_html(DRAWINGS)
    assert re.findall(r'data-drawing-id="(\d+)"', html) == ["1000", "1001", "1002", "1003"]
    assert re.findall(r'data-remove="(\d+)"', html) == ["1000", "1001", "1002", "1003"]
    assert "s-secret-id" not in html  # "all theirs" names the drawing, never the student


def test_the_qr_code_is_an_inline_svg_of_the_link():
    svg = qr_svg(JOIN)
    assert svg.startswith("<svg") and "http" not in svg.replace('xmlns="http://www.w3.org/2000/svg"', "")


def test_the_qr_code_scales_whole_with_its_quiet_zone():
    from mnist_demo.classes.views import QR_QUIET

    svg = qr_svg(JOIN)
    size = int(re.search(r'viewBox="0 0 (\d+) \1"', svg).group(1))
    assert "width=" not in svg.split(">")[0] and "height=" not in svg.split(">")[0]  # the CSS sizes it
    assert f'<path fill="#fff" d="M0 0h{size}v{size}h-{size}z"/>' in svg  # white under it all, in both themes
    assert QR_QUIET == 4 and f'd="M{QR_QUIET} {QR_QUIET}.5h7' in svg  # the first module 4 modules in


def test_bars_are_to_scale_a_3_and_a_4_differ():
    from mnist_demo.classes.views import MIN_BAR, bar_heights, counts_html

    heights = bar_heights([3, 4, 0, 1, 2, 100])
    assert heights[2] == 0 and heights[5] == 100 and heights[3] > MIN_BAR > 0
    assert heights[3] < heights[4] < heights[0] < heights[1]  # every count its own height, even small ones
    assert (heights[1] - MIN_BAR) / (heights[0] - MIN_BAR) == pytest.approx(4 / 3)  # in proportion
    html = counts_html(np.array([1] * 3 + [7] * 4))
    found = dict(re.findall(r'data-digit="(\d)">.*?height:([\d.]+)%', html))
    assert float(found["1"]) < float(found["7"]) == 100 and float(found["0"]) == 0


def test_the_class_models_note_shows_only_fractions_and_never_crashes():
    from mnist_demo.classes.views import class_model_note

    good = {"held_before": "0.8", "held_after": "0.8333", "valid_before": "0.9312", "valid_after": "0.9288"}
    note = class_model_note({"linear": good})
    assert "80.0% → <b>83.3%</b>" in note and "MNIST 93.1% → 92.9%" in note
    for bad in ("nan", "inf", "-inf", "1e308", "1.5", "-0.1", "abc", "", None, 7, [1]):
        assert class_model_note({"linear": good | {"held_after": bad}}) == ""
        assert "CNN" in class_model_note({"linear": good | {"valid_before": bad}, "cnn": good})
    for odd in (None, {}, {"linear": "x"}, {"linear": None}, ["linear"], {"cnn": {}}):
        assert class_model_note(odd) == ""


def test_a_paused_wall_says_how_many_wait_and_the_teacher_sees_them_marked():
    assert "class-waiting" not in wall()
    paused = wall_html("ACD479", ROWS[:2], NEWEST[2:], None, JOIN, held=2)
    assert 'data-waiting="2">2 drawings waiting for the teacher' in paused and 'data-count="2"' in paused
    assert "s-secret-id" not in paused
    teacher = teacher_drawings_html(DRAWINGS, held_after=DRAWINGS[1].order)
    assert re.findall(r'data-drawing-id="(\d+)"[^>]*data-held="1"', teacher) == ["1002", "1003"]
    assert 'data-theirs="4"' in teacher  # all four are one student's: "Remove all 4 of theirs?"
    assert "The wall is paused" in teacher and "2 drawings held back" in teacher
    assert "data-held" not in teacher_drawings_html(DRAWINGS)


def test_a_locked_class_shows_no_way_in_on_the_wall():
    locked = wall_html("ACD479", ROWS, NEWEST, None, JOIN, locked=True)
    assert "Joining is closed" in locked and "<svg" not in locked and 'id="class-join-link"' not in locked
    assert 'id="class-join-link"' in wall_html("ACD479", ROWS, NEWEST, None, JOIN)
