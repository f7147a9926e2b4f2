"""Visitors' download files: a folder per session, gone with the session, the root emptied at
start, and the whole bounded in age and size."""

import os
import time

from mnist_demo import downloads
from mnist_demo.session import Session, close_session


def test_a_session_folder_is_fresh_each_time_and_goes_with_the_session(tmp_path):
    owner = downloads.new_owner()
    first = downloads.new_folder(owner, "digits", tmp_path)
    (first / "x.gz").write_bytes(b"x")
    second = downloads.new_folder(owner, "digits", tmp_path)
    weights = downloads.new_folder(owner, "weights", tmp_path)
    assert second != first and not first.exists() and weights.exists()  # one per kind, the last one
    downloads.remove(owner, tmp_path)
    assert not (tmp_path / owner).exists()


def test_an_export_only_session_leaves_nothing(monkeypatch, tmp_path):
    monkeypatch.setattr(downloads, "ROOT", tmp_path)
    session = Session()
    folder = session.new_downloads("digits")
    assert folder.startswith(str(tmp_path))
    close_session(session)
    assert [p for p in tmp_path.rglob("*") if p.is_file() or p.parent != tmp_path] == []


def test_a_restart_removes_what_dead_runs_left_and_nothing_of_live_ones(tmp_path):
    import subprocess
    import sys

    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead, live = tmp_path / gone.stdout.strip(), tmp_path / "1"  # pid 1 is always running
    for root in (dead, live):
        folder = downloads.new_folder("a-session", "weights", root)  # as a run killed with -9 left it
        (folder / "cnn.safetensors").write_bytes(b"w")
    downloads.reset(tmp_path)
    assert not dead.exists() and live.exists() and (tmp_path / str(os.getpid())).is_dir()


def test_the_sweep_bounds_age_and_size(tmp_path):
    old, big, new = (downloads.new_folder(name, "digits", tmp_path) for name in ("old", "big", "new"))
    (big / "f").write_bytes(b"b" * 3000)
    (new / "f").write_bytes(b"n" * 1000)
    hour_ago = time.time() - 7200
    os.utime(tmp_path / "old", (hour_ago, hour_ago))  # a session evicted without its cleanup
    os.utime(tmp_path / "big", (time.time() - 60, time.time() - 60))
    downloads.sweep(tmp_path, max_age=3600, max_bytes=2000)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new"]  # too old; then the oldest over the cap
    assert old.parent.name == "old"
