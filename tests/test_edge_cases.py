"""Hardening: odd files through the public API, a save killed mid-write, the shipped weights never
changing, and deployment settings that agree with each other."""

import io
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from gradio_client import handle_file
from PIL import Image

from benchmarks.harness.client import api_client
from tests.train_requests import controls

REPO = Path(__file__).resolve().parents[1]


def one(mode="L", size=(300, 300)):
    """A black "1" on white (or the mode's equivalent), as a PIL image."""
    img = Image.new("RGB", size, "white")
    w, h = size
    img.paste((0, 0, 0), (w // 2 - max(1, w // 24), h // 8, w // 2 + max(1, w // 24), 7 * h // 8))
    return img.convert(mode)


def save(img, path, **kw):
    img.save(path, **kw)
    return path


def make_cases(tmp: Path):
    gif_frames = [one("P"), Image.new("P", (300, 300), 0)]
    png = io.BytesIO()
    one().save(png, format="PNG")
    cases = {
        "greyscale": (save(one("L"), tmp / "l.png"), 1),
        "rgb": (save(one("RGB"), tmp / "rgb.png"), 1),
        "cmyk": (save(one("CMYK"), tmp / "cmyk.jpg", quality=95), 1),
        "animated gif": (tmp / "anim.gif", 1),
        "big 4000x4000": (save(one("L", (4000, 4000)), tmp / "big.png"), 1),  # a phone photo's size: read
        "huge 8000x8000": (save(one("L", (8000, 8000)), tmp / "huge.png"), "16 megapixels"),  # over the budget
        "blank white": (save(Image.new("RGB", (300, 300), "white"), tmp / "white.png"), "blank"),
        "fully transparent": (save(Image.new("RGBA", (300, 300), (0, 0, 0, 0)), tmp / "clear.png"), "blank"),
        "1x1": (save(Image.new("L", (1, 1), 0), tmp / "dot.png"), "blank"),
        "not an image": (tmp / "notes.png", "Could not read"),
        "truncated png": (tmp / "cut.png", "Could not read"),
        "empty file": (tmp / "empty.png", "Could not read"),
    }
    gif_frames[0].save(tmp / "anim.gif", save_all=True, append_images=gif_frames[1:], duration=100, loop=0)
    (tmp / "notes.png").write_text("certainly not a PNG")
    (tmp / "cut.png").write_bytes(png.getvalue()[: len(png.getvalue()) // 2])
    (tmp / "empty.png").write_bytes(b"")
    return cases


def test_edge_case_table_through_the_api(app_url, tmp_path):
    client = api_client(app_url)
    table = []
    for name, (path, expected) in make_cases(tmp_path).items():
        try:
            got = client.predict(handle_file(str(path)), api_name="/classify")
            outcome = f"label {got['cnn']['label']}/{got['linear']['label']}"
            ok = expected == 1 and got["cnn"]["label"] == 1 and got["linear"]["label"] == 1
        except Exception as e:  # gradio_client raises the server's gr.Error message
            outcome = str(e)
            ok = isinstance(expected, str) and expected in outcome
            client = api_client(app_url)  # a fresh stream after an error
        table.append((name, outcome, ok))
    print("\n".join(f"{n:18} {'ok ' if ok else 'BAD'} {o[:90]}" for n, o, ok in table))
    assert all(ok for _, _, ok in table), table
    with pytest.raises(Exception, match="Send one image file"):
        api_client(app_url).predict(None, api_name="/classify")
    # and the server still answers
    assert client.predict(handle_file(str(tmp_path / "rgb.png")), api_name="/classify")["cnn"]["label"] == 1


@pytest.mark.slow  # the quick loop skips it: a subprocess that trains or is killed
def test_save_killed_mid_write_keeps_the_previous_file(tmp_path):
    target = tmp_path / "cnn.safetensors"
    marker = tmp_path / "writing"
    script = f"""
import os, time, torch
from mnist_demo.models import build_model
from mnist_demo.weights import save_weights
torch.manual_seed(0)
save_weights(build_model("cnn"), {str(target)!r}, {{"version": "old"}})
real_fsync = os.fsync
def slow_fsync(fd):
    open({str(marker)!r}, "w").close()   # the new bytes are written, not yet renamed
    time.sleep(60)
os.fsync = slow_fsync
torch.manual_seed(1)
save_weights(build_model("cnn"), {str(target)!r}, {{"version": "new"}})
"""
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=REPO)
    deadline = time.monotonic() + 60
    while not marker.exists():
        assert proc.poll() is None and time.monotonic() < deadline, "the writer never reached fsync"
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    from mnist_demo.weights import load_weights
    _, meta = load_weights(target, expect="cnn")
    assert meta["version"] == "old"


def test_spaces_front_matter_matches_requirements():
    readme = (REPO / "README.md").read_text()
    front = readme.split("---")[1]
    reqs = (REPO / "requirements.txt").read_text()
    pinned = re.search(r"^gradio==([\d.]+)$", reqs, re.M).group(1)
    assert re.search(r"^sdk: gradio$", front, re.M)
    assert re.search(rf"^sdk_version: {re.escape(pinned)}$", front, re.M)
    assert re.search(r"^app_file: app.py$", front, re.M)
    for name in ("torch", "numpy", "scikit-learn", "pillow", "scipy", "safetensors", "matplotlib", "tqdm", "spaces"):
        assert re.search(rf"^{name}==", reqs, re.M), name


def test_the_space_runs_a_python_and_a_torch_that_zerogpu_accepts():
    from packaging.requirements import Requirement

    from mnist_demo.gpu import ZEROGPU_PYTHONS, ZEROGPU_TORCHES
    front = (REPO / "README.md").read_text().split("---")[1]
    reqs = (REPO / "requirements.txt").read_text()
    space_python = re.search(r'^python_version: "(.+)"$', front, re.M).group(1)
    assert space_python in ZEROGPU_PYTHONS
    # The torch that pip installs on the Space's Python, environment markers and all.
    torches = [r for r in map(Requirement, re.findall(r"^torch==.*$", reqs, re.M))
               if r.marker is None or r.marker.evaluate({"python_version": space_python})]
    assert len(torches) == 1 and str(torches[0].specifier).removeprefix("==") in ZEROGPU_TORCHES


def test_public_launch_settings():
    from mnist_demo.settings import from_env
    from mnist_demo.ui import LAUNCH_OPTIONS, queue_options
    assert LAUNCH_OPTIONS["mcp_server"] is False and LAUNCH_OPTIONS["enable_monitoring"] is False
    assert LAUNCH_OPTIONS["show_error"] is False and LAUNCH_OPTIONS["max_file_size"]
    assert "allowed_paths" not in LAUNCH_OPTIONS and queue_options(from_env({}))["max_size"] > 0


@pytest.mark.slow  # the quick loop skips it: two trainings at once
def test_two_sessions_training_at_once_keep_their_own_models():
    import threading

    from mnist_demo.session import Session
    from mnist_demo.ui_train import run_training
    n = 2
    sessions = [Session() for _ in range(n)]

    def go(k):
        for _ in run_training(sessions[k], None, *controls(which="linear", subset=1000, seed=k)):
            pass
    threads = [threading.Thread(target=go, args=(k,)) for k in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    a, b = (s.models["linear"] for s in sessions)
    assert a is not b and not np.array_equal(a.lin.weight.detach().numpy(), b.lin.weight.detach().numpy())
