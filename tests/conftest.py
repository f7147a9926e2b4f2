import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# CI exports MNIST_DIR; a developer's checkout finds the shared copy next to it, if there is one
# (else MNIST comes from OpenML, cached by scikit-learn, as the app itself gets it).
if (REPO.parent / "shared" / "data" / "mnist").is_dir():
    os.environ.setdefault("MNIST_DIR", str(REPO.parent / "shared" / "data" / "mnist"))


@pytest.fixture(scope="session")
def mnist():
    from mnist_demo.data import load_mnist

    return load_mnist()


@pytest.fixture(scope="session")
def shipped_weights_dir():
    return REPO / "weights"


@pytest.fixture(scope="session")
def app_url(tmp_path_factory):
    """The real app, launched as a user would (`python app.py`), on a free loopback port, its
    data folder (the classes' database) a fresh one."""
    from tests.app_launcher import launch

    log = REPO / ".pytest_cache" / "app.log" if (REPO / ".pytest_cache").is_dir() else None
    data = tmp_path_factory.mktemp("app-data")
    with launch("app.py", log=log, env={"MNIST_DATA_DIR": str(data)}) as (url, _process):
        yield url


@pytest.fixture(scope="session")
def client(app_url):
    from gradio_client import Client

    return Client(app_url, verbose=False)


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium, driven by Playwright (its own browser download cannot work offline)."""
    from playwright.sync_api import sync_playwright

    from tests.pad_driver import ARGS, CHROMIUM

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
