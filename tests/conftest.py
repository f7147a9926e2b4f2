import contextlib
import gc
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

import mnist_demo  # noqa: F401  first: every Gradio import after it skips Gradio's stub writer (mnist_demo/gradio_stubs.py)

REPO = Path(__file__).resolve().parents[1]
# CI exports MNIST_DIR; a developer's checkout finds the shared copy next to it, if there is one
# (else MNIST comes from OpenML, cached by scikit-learn, as the app itself gets it).
if (REPO.parent / "shared" / "data" / "mnist").is_dir():
    os.environ.setdefault("MNIST_DIR", str(REPO.parent / "shared" / "data" / "mnist"))


@pytest.fixture(scope="session")
def mnist():
    from mnist_demo.settings import from_process

    return from_process().mnist.load()  # MNIST_DIR, cached in MNIST_DATA_DIR: as the app loads it


@pytest.fixture(scope="session")
def mnist_small(mnist):
    """MNIST with its validation set cut to its first 2,000 digits (the training set whole): a
    test that trains for an epoch or two is judged each epoch in a tenth of the time."""
    import dataclasses

    return dataclasses.replace(mnist, x_valid=mnist.x_valid[:2000], y_valid=mnist.y_valid[:2000])


@pytest.fixture(scope="session")
def shipped_weights_dir():
    return REPO / "weights"


# The Class tab's components as the class handlers read them, each named after itself, so that a
# test reads a handler's outputs by name (tests/test_class_pages.py, tests/test_class_controls.py).
CLASS_PAGE = ("status", "join_box", "leave", "code", "student_timer", "stored", "start", "teacher_view",
              "teacher_card", "lock", "pause", "show_held", "teacher_drawings", "teacher_timer", "exported", "wall",
              "wall_timer", "pad", "confirm", "echo")


@pytest.fixture
def page():
    from mnist_demo.classes.tab import ClassPage

    return ClassPage(**{n: n for n in CLASS_PAGE}, choices=["choice-linear", "choice-cnn"])


# Under `pytest -n 2 --dist loadgroup` (as .ci/run runs it) the controller starts one app server
# per app group (APP_GROUPS) as it begins, so that their starts overlap the workers' collection;
# the worker that runs a group's tests finds its server's address in the environment.
SHARED_APP_URL = "MNIST_TESTS_SHARED_APP_URL_{}"

# The modules that use the app, split into two groups of about the same time, each with a server of
# its own and run in one worker one test after another, as their timings assume (several workers on
# one server made a page's answer wait past its timeout). A module not named here is in "app".
APP_GROUPS = ("app", "app2")
APP2 = {"test_pad", "test_accessibility", "test_train_tab", "test_storage"}


def app_group(item) -> str:
    """The app group of a test (or of a module: its ``module`` is the same)."""
    return "app2" if item.module.__name__.rpartition(".")[2] in APP2 else "app"


def app_log(group: str) -> Path | None:
    """Where a launched app's output goes: pytest's cache folder, when there is one."""
    cache = REPO / ".pytest_cache"
    return cache / f"{group}.log" if cache.is_dir() else None


@pytest.fixture(scope="session")
def launched_app(tmp_path_factory):
    """The real app, launched as a user would (`python app.py`), on a free loopback port, its data
    folder (the classes' database) a fresh one: for a run without the controller's servers."""
    from benchmarks.harness.launcher import launch

    with launch("app.py", log=app_log("app"), env={"MNIST_DATA_DIR": str(tmp_path_factory.mktemp("app-data"))}) \
            as (url, _process):
        yield url


@pytest.fixture
def app_url(request):
    """The address of the app server of this test's group (or of one launched for this run)."""
    return group_url(request)


@pytest.fixture(scope="module")
def module_app_url(request):
    """``app_url`` for a module's own fixtures (a page its tests take turns on)."""
    return group_url(request)


def group_url(request) -> str:
    from benchmarks.harness.launcher import wait_until_answering

    shared = os.environ.get(SHARED_APP_URL.format(app_group(request.node)))
    if shared:
        wait_until_answering(shared)
        return shared
    return request.getfixturevalue("launched_app")


CLIENTS: dict = {}  # one gradio_client per server, made once


@pytest.fixture
def client(app_url):
    from benchmarks.harness.client import api_client

    if app_url not in CLIENTS:
        CLIENTS[app_url] = api_client(app_url)
    return CLIENTS[app_url]


class SharedPages:
    """Pages that a module's tests take turns on: each page opened costs the gate about two
    CPU-seconds, Chromium's and the server's, and the suite opened fifty-five. A module's fixture
    holds one (``with shared_pages.hold(page): yield page``); ``close_pages`` leaves it open until
    the module ends."""

    def __init__(self):
        self.contexts = set()

    @contextlib.contextmanager
    def hold(self, page):
        self.contexts.add(page.context)
        try:
            yield page
        finally:
            self.contexts.discard(page.context)
            page.context.close()


SHARED_PAGES = SharedPages()


@pytest.fixture(scope="session")
def shared_pages() -> SharedPages:
    return SHARED_PAGES


@pytest.fixture(autouse=True)
def close_pages(request):
    """Every page a browser test opened is closed after it, the ones it left open too, except the
    module's shared ones: an open page still costs its browser's CPU (less now that
    page/calm_frames.js stops Gradio's idle frames), and a worker's browser lives for the whole run."""
    yield
    if "browser" in request.fixturenames:
        for context in request.getfixturevalue("browser").contexts:
            if context not in SHARED_PAGES.contexts:
                context.close()


@pytest.fixture(scope="module")
def desktop_page(browser, module_app_url, shared_pages):
    """One desktop page on the app that a module's tests take turns on, through ``pad``."""
    from benchmarks.harness.pad import DESKTOP, open_app

    with shared_pages.hold(open_app(browser, module_app_url, **DESKTOP)) as page:
        yield page


@pytest.fixture
def pad(desktop_page):
    """The module's desktop page as a test wants to find it: the Draw tab open, no button held
    down, the pad empty and both answers blank (no answer of the test before still showing), and
    nothing focused. Other tabs are left as the last test left them."""
    from playwright.sync_api import expect

    from benchmarks.harness.pad import expect_blank
    from mnist_demo.models import MODEL_NAMES

    desktop_page.mouse.up()  # (a test that failed mid-stroke)
    desktop_page.get_by_role("tab", name="Draw", exact=True).click()
    clear = desktop_page.locator("#pad .pad-clear")
    if clear.is_enabled():  # (disabled on an empty pad)
        clear.click()
    expect(desktop_page.locator("#pad .pad-frame.empty")).to_be_visible()
    for name in MODEL_NAMES:
        expect_blank(desktop_page, name)
    desktop_page.evaluate("() => document.activeElement?.blur()")  # as a page just opened
    return desktop_page


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium, driven by Playwright (its own browser download cannot work offline)."""
    from playwright.sync_api import sync_playwright

    from benchmarks.harness.pad import ARGS, CHROMIUM

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def pytest_deselected(items):
    """Whatever narrows the gate's run after collection (--lf, --sw, a plugin's own selection) ends
    it too: pytest reports every deselection here, however it was made."""
    if os.environ.get("MNIST_GATE") and items:
        pytest.exit(f"the gate (bash .ci/run) runs every test: {len(items)} were deselected "
                    f"(the first: {items[0].nodeid})", returncode=pytest.ExitCode.USAGE_ERROR)


def pytest_configure(config):
    # The gate (`bash .ci/run`, which sets MNIST_GATE) runs every collected test: what it skipped
    # could land broken. A -m, -k or --deselect slipped in (PYTEST_ADDOPTS, say) is refused, and
    # any other deselection ends the run (pytest_deselected).
    option = config.option
    if os.environ.get("MNIST_GATE") and (option.markexpr or option.keyword or getattr(option, "deselect", None)):
        raise pytest.UsageError("the gate (bash .ci/run) runs every test: no -m, -k or --deselect "
                                f"(got -m {option.markexpr!r}, -k {option.keyword!r}, --deselect {option.deselect!r})")
    # Workers share two cores: one torch thread each, or their trainings oversubscribe the CPUs and
    # both slow down. A worker is known by xdist's workerinput, not by PYTEST_XDIST_WORKER: a pytest
    # that a test starts (tests/test_ci_run.py, the docs' commands) inherits that variable.
    if hasattr(config, "workerinput"):
        import torch

        torch.set_num_threads(1)


def pytest_unconfigure(config):
    """The run is over: what is alive goes with the process. Frozen, it is not walked again by the
    interpreter's last garbage collection (torch's and Gradio's objects: 0.9 CPU-s a process, in
    each worker and the controller at the very end of the gate; mnist_demo/train.py does the same)."""
    gc.freeze()


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist starts its workers, which inherit the variable
def pytest_sessionstart(session):
    """The xdist controller of `-n N --dist loadgroup` (which keeps each app group's tests in one
    worker; other modes would spread them over several, against one server) starts the app
    servers now, unless the selection plainly runs none of their tests."""
    option = session.config.option
    if hasattr(session.config, "workerinput") or not getattr(option, "numprocesses", None) \
            or getattr(option, "dist", None) != "loadgroup" or option.collectonly \
            or "not slow" in (option.markexpr or ""):
        return
    from benchmarks.harness.launcher import start, stop

    for group in APP_GROUPS:
        data = tempfile.mkdtemp(prefix=f"mnist-tests-{group}-")
        log = open(app_log(group), "w") if app_log(group) else subprocess.DEVNULL
        url, proc = start("app.py", out=log, env={"MNIST_DATA_DIR": data})
        os.environ[SHARED_APP_URL.format(group)] = url
        session.config.add_cleanup(lambda proc=proc, data=data, log=log: (
            stop(proc), shutil.rmtree(data, ignore_errors=True), log is not subprocess.DEVNULL and log.close()))


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the groups
def pytest_collection_modifyitems(items):
    """A test that starts the app (`app_url`, `client`) is `slow`: the quick loop,
    `pytest -m "not browser and not slow"`, tests the modules in process. Chromium tests carry
    `browser` themselves (each such module sets `pytestmark`)."""
    for item in items:
        if uses_the_app(item):
            item.add_marker(pytest.mark.slow)
        # Under pytest-xdist (`-n 2 --dist loadgroup`, as .ci/run runs it), a worker runs each app
        # group's tests (APP_GROUPS) against that group's server, one after another. The modules
        # with servers of their own (OWN_SERVER) form two more groups, balanced by their times;
        # in-process modules go to whichever worker is free. A browser test keeps Chromium, a
        # server and its worker busy at once: two workers on two cores were faster than three or
        # four (docs/testing.md has the figures).
        module = item.module.__name__.rpartition(".")[2]
        if module in OWN_SERVER and not uses_the_app(item):
            item.add_marker(pytest.mark.xdist_group(OWN_SERVER[module]))
        elif item.get_closest_marker("browser") or uses_the_app(item):
            item.add_marker(pytest.mark.xdist_group(app_group(item)))


# Each module that starts servers of its own, and its group: the lesson and a Space's start
# (about two and a half minutes together in the gate), the projector and the attacks (as long).
OWN_SERVER = {"test_class_lesson": "own-a", "test_space": "own-a",
              "test_class_projector": "own-b", "test_attacks": "own-b"}


def uses_the_app(item) -> bool:
    return bool({"app_url", "module_app_url"} & set(getattr(item, "fixturenames", ())))
