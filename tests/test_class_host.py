"""The host's commands: list the classes, print a class's links, end one, delete expired ones, and
say so in a sentence (with a non-zero status) for a code that names no class."""

import subprocess
import sys
import time
from pathlib import Path

import pytest

from mnist_demo.classes.host import main, parser
from mnist_demo.classes.store import DAY, DB_NAME, Classroom

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def room(tmp_path):
    with Classroom(tmp_path) as r:
        yield r


def run(tmp_path, capsys, *argv) -> tuple[int, str, str]:
    status = main(["--data-dir", str(tmp_path), *argv])
    out, err = capsys.readouterr()
    return status, out, err


def test_list_shows_each_class_with_its_figures(tmp_path, room, capsys):
    new, other = room.create_class(), room.create_class()
    student = room.join(new.code, "a")
    room.add_drawing(new.code, student, 1, 2, 2, 2, bytes(784))
    room.set_locked(other.code, True)
    status, out, _ = run(tmp_path, capsys, "list")
    lines = out.splitlines()
    assert status == 0 and lines[0].split() == ["code", "created", "expires", "locked", "students", "drawings"]
    rows = {line.split()[0]: line.split() for line in lines[1:]}
    assert rows[new.code][-3:] == ["no", "1", "1"] and rows[other.code][-3:] == ["yes", "0", "0"]
    assert rows[new.code][1] == time.strftime("%Y-%m-%d")  # created today, local time
    assert new.teacher_token not in out  # listing shows no secret


def test_teacher_link_prints_the_three_links(tmp_path, room, capsys):
    new = room.create_class()
    status, out, _ = run(tmp_path, capsys, "teacher-link", new.code.lower(), "--url", "http://10.0.0.5:7860/")
    assert status == 0
    assert f"http://10.0.0.5:7860/?teach={new.teacher_token}" in out
    assert f"http://10.0.0.5:7860/?wall={new.wall_token}" in out
    assert f"http://10.0.0.5:7860/?class={new.code}" in out
    assert room.code_for_teacher(new.teacher_token) == new.code  # printing it changed nothing


def test_end_deletes_the_class_and_says_what_went(tmp_path, room, capsys):
    new, other = room.create_class(), room.create_class()
    student = room.join(new.code, "a")
    for i in range(3):
        room.add_drawing(new.code, student, i, 1, 1, 1, bytes(784))
    status, out, _ = run(tmp_path, capsys, "end", new.code)
    assert status == 0 and f"Ended class {new.code}: deleted its 3 drawings, 1 students" in out
    assert [c.code for c in room.classes()] == [other.code] and room.drawings(new.code) == []


@pytest.mark.parametrize("command", ["teacher-link", "end"])
def test_an_unknown_code_is_a_sentence_and_a_failure(tmp_path, room, capsys, command):
    room.create_class()
    status, out, err = run(tmp_path, capsys, command, "ACD-EFH")
    assert status == 1 and out == "" and err.strip() == "No live class has the code ACDEFH."


def test_commands_on_a_folder_without_classes_create_nothing(tmp_path, capsys):
    status, out, _ = run(tmp_path, capsys, "list")
    assert status == 0 and "No classes" in out
    status, _, err = run(tmp_path, capsys, "end", "ACDEFH")
    assert status == 1 and "No class has the code ACDEFH" in err
    assert not (tmp_path / DB_NAME).exists()


def test_expire_deletes_what_is_past_its_time(tmp_path, capsys):
    clock = [time.time() - DAY]
    with Classroom(tmp_path, clock=lambda: clock[0]) as room:
        kept = room.create_class().code
        room.join(kept, "10.0.0.1")  # used: an empty one is deleted after hours (ClassLimits.empty_hours)
        clock[0] = time.time() - 8 * DAY  # a class made a week and a day ago
        room.create_class()
        assert len(room.classes()) == 2
    status, out, _ = run(tmp_path, capsys, "expire")
    assert status == 0 and out.strip() == "Deleted 1 expired class."
    with Classroom(tmp_path) as room:
        assert [c.code for c in room.classes()] == [kept]


def test_help_lists_every_command(capsys):
    text = parser().format_help()
    for command in ("list", "teacher-link", "end", "expire", "--data-dir"):
        assert command in text
    with pytest.raises(SystemExit) as done:
        main(["teacher-link", "--help"])
    assert done.value.code == 0 and "--url" in capsys.readouterr().out


def test_the_data_dir_defaults_to_the_apps_setting(tmp_path, room, capsys, monkeypatch):
    code = room.create_class().code
    monkeypatch.setenv("MNIST_DATA_DIR", str(tmp_path))
    assert main(["list"]) == 0 and code in capsys.readouterr().out
    assert main(["list", "--data-dir", str(tmp_path / "elsewhere")]) == 0  # given after the command
    assert "No classes" in capsys.readouterr().out


def test_it_runs_as_a_module(tmp_path, room):
    code = room.create_class().code
    done = subprocess.run([sys.executable, "-m", "mnist_demo.class_host", "--data-dir", str(tmp_path), "list"],
                          cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and code in done.stdout
