"""page_head: the scripts that must run before Gradio's own are in the page Gradio serves at
``/``, before its first script, with every other response untouched; and with them an idle page
asks the browser for no frames from Gradio's status tracker (page/calm_frames.js; its pure parts:
tests/js/calm_frames.test.js)."""

import gzip
import time
import urllib.request

import pytest
from starlette.applications import Starlette
from starlette.responses import HTMLResponse, JSONResponse, StreamingResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from mnist_demo.page_head import FirstScripts, first_scripts, page_path, with_first_scripts

PAGE = b'<!doctype html><html><head><meta charset="utf-8"><base href="./"><script>var a = 1;</script>' \
       b'<script type="module" src="./assets/index.js"></script></head><body></body></html>'
SCRIPTS = b"<script>first()</script>"


def client() -> TestClient:
    async def page(request):
        return HTMLResponse(PAGE)

    async def chunks(request):
        async def parts():
            for k in range(0, len(PAGE), 7):
                yield PAGE[k:k + 7]
        return StreamingResponse(parts(), media_type="text/html")

    async def data(request):
        return JSONResponse({"<script": 1})

    app = Starlette(routes=[Route("/", page, methods=["GET", "HEAD"]), Route("/other", page),
                            Route("/chunks", chunks), Route("/data", data)])
    return TestClient(FirstScripts(app, SCRIPTS))


def test_the_first_scripts_go_just_before_the_pages_first_script_and_nowhere_else(monkeypatch):
    web = client()
    answer = web.get("/?class=ABC123")
    assert answer.content == PAGE.replace(b"<script>var", SCRIPTS + b"<script>var", 1)
    assert int(answer.headers["content-length"]) == len(PAGE) + len(SCRIPTS)
    assert answer.content.index(b'<meta charset="utf-8">') < answer.content.index(SCRIPTS)  # the charset still first
    assert web.head("/").headers["content-length"] == answer.headers["content-length"]
    assert web.get("/other").content == PAGE  # another path
    assert web.get("/data").json() == {"<script": 1}  # not a page
    monkeypatch.setattr("mnist_demo.page_head.PAGE_PATHS", ("/chunks",))
    assert client().get("/chunks").content == answer.content  # a page sent in pieces, whole
    assert with_first_scripts(b"<html>no scripts</html>", SCRIPTS) == b"<html>no scripts</html>"
    assert page_path({"path": "/mnist/", "root_path": "/mnist"}) == "/"  # served under a root path
    assert page_path({"path": "/mnist/other", "root_path": "/mnist"}) == "/other"


def test_the_real_page_has_them_before_gradios_code_and_still_compressed(app_url):
    request = urllib.request.Request(app_url, headers={"Accept-Encoding": "gzip"})
    with urllib.request.urlopen(request, timeout=30) as answer:
        assert answer.headers["Content-Encoding"] == "gzip"
        page = gzip.decompress(answer.read())
    first = page.index(first_scripts())
    assert first < page.index(b"window.gradio_config") < page.index(b'<script type="module"')


# Counts the frames asked of the browser itself whose stack passes through Gradio's status tracker:
# installed before any of the page's scripts, so page/calm_frames.js wraps this in turn.
COUNT_TRACKER_FRAMES = """(() => {
  window.__trackerFrames = 0;
  const ask = window.requestAnimationFrame;
  window.requestAnimationFrame = function (callback) {
    if (/statustracker-/.test(new Error().stack || "")) window.__trackerFrames++;
    return ask.call(window, callback);
  };
})();"""


@pytest.mark.browser
def test_an_idle_page_asks_for_no_frames_from_gradios_status_tracker(browser, app_url):
    """Gradio's tracker shown while the app loads is taken away still asking for 60 frames a
    second, forever (4.5 % of a core per idle page here): with calm_frames.js, none while idle."""
    page = browser.new_context().new_page()
    page.add_init_script(COUNT_TRACKER_FRAMES)
    page.goto(app_url)
    page.wait_for_selector("#pad .pad-status")
    assert page.evaluate("window.requestAnimationFrame.calm") is True
    time.sleep(2.0)  # what the page does as it starts, done
    before = page.evaluate("window.__trackerFrames")
    time.sleep(3.0)
    frames = page.evaluate("window.__trackerFrames") - before
    print(f"\n[idle page] frames asked by Gradio's status tracker in 3 s idle: {frames} (about 180 without "
          "calm_frames.js)")
    assert frames <= 10  # none here; a margin for a page still finishing its start on a loaded machine
