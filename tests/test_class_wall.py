"""The class's HTML (class_wall.py): the page contract the wall's tests and scripts read, figures
that match a count by hand, and nothing secret in what a projector shows."""

import re

import numpy as np

from mnist_demo.class_wall import cell_html, qr_svg, teacher_drawings_html, wall_html
from mnist_demo.classroom import Drawing

JOIN = "http://192.168.1.20:7860/?class=ACD479"


def drawing(i, label, linear, cnn, student="s-secret-id"):
    return Drawing(drawing_id=1000 + i, student=student, label=label, linear=linear, cnn=cnn,
                   pixels=bytes([i % 256]) * 784, created=float(i))


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
