import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# CI exports MNIST_DIR; a developer's checkout finds the shared copy next to it.
os.environ.setdefault("MNIST_DIR", str(REPO.parent / "shared" / "data" / "mnist"))


@pytest.fixture(scope="session")
def mnist():
    from mnist_demo.data import load_mnist

    return load_mnist()


@pytest.fixture(scope="session")
def shipped_weights_dir():
    return REPO / "weights"


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def app_url():
    """The real app, launched as a user would (`python app.py`), on a free loopback port."""
    import subprocess
    import sys
    import time
    import urllib.request

    port = _free_port()
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "PYTHONUNBUFFERED": "1"}
    log = open(REPO / ".pytest_cache" / "app.log", "w") if (REPO / ".pytest_cache").is_dir() else None
    proc = subprocess.Popen([sys.executable, "app.py", "--port", str(port)], cwd=REPO, env=env,
                            stdout=log or subprocess.DEVNULL, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 90
    while True:
        try:
            urllib.request.urlopen(url, timeout=2)
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError(f"app did not start (exit code {proc.poll()})") from None
            time.sleep(0.3)
    yield url
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
    if log:
        log.close()


@pytest.fixture(scope="session")
def client(app_url):
    from gradio_client import Client

    return Client(app_url, verbose=False)


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium, driven by Playwright (its own browser download cannot work offline)."""
    from pad_driver import ARGS, CHROMIUM
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def pytest_collection_modifyitems(items):
    """A test that starts the app (`app_url`, `client`) is `slow`: the quick loop,
    `pytest -m "not browser and not slow"`, tests the modules in process. Chromium tests carry
    `browser` themselves (each such module sets `pytestmark`)."""
    for item in items:
        if {"app_url", "client"} & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)
