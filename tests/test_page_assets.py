"""The page's scripts as the app serves them (page_assets.script_route): each at its content's
hash, cached for good, in the order the page and its training workers load them; and the shipped
weights, held once by the page and fetched by its trainings."""

import re

import gradio as gr
from fastapi.testclient import TestClient

from mnist_demo import page_assets
from mnist_demo.inference import WEIGHTS_DIR
from mnist_demo.limits import app_kwargs
from mnist_demo.models import MODEL_NAMES
from mnist_demo.page_assets import (
    CLASS_TRAIN_SCRIPTS,
    PAGE,
    PAGE_SCRIPTS,
    TRAIN_TAB_SCRIPTS,
    TRAINING_SCRIPTS,
    class_train_head,
    page_head,
    shipped_urls,
    train_head,
    worker_scripts,
)
from mnist_demo.page_data import IMMUTABLE


def sources(head: str) -> list[str]:
    return re.findall(r'<script src="([^"]+)"></script>', head)


def test_each_head_names_its_scripts_in_order_and_inlines_none():
    for head, names in ((page_head(), PAGE_SCRIPTS), (train_head(), TRAIN_TAB_SCRIPTS),
                        (class_train_head(), CLASS_TRAIN_SCRIPTS)):
        assert [url.rpartition("/")[2] for url in sources(head)] == list(names)
        assert "<script>" not in head  # the code is not in the app's configuration
    assert [url.rpartition("/")[2] for url in worker_scripts()] == [*TRAINING_SCRIPTS, "train_worker.js"]


def test_every_script_is_served_at_its_hash_for_good_and_nothing_else_is(tmp_path, monkeypatch):
    with gr.Blocks() as demo:
        gr.Markdown("x")
    app = gr.routes.App.create_app(demo, app_kwargs=app_kwargs() | {"routes": page_assets.routes()})
    urls = {*sources(page_head()), *sources(class_train_head()), *worker_scripts()}
    with TestClient(app) as client:
        for url in urls:
            got = client.get(f"/{url}")
            assert got.status_code == 200, url
            assert got.headers["cache-control"] == IMMUTABLE
            assert got.headers["content-type"].startswith("text/javascript")
            assert got.content == (PAGE / url.rpartition("/")[2]).read_bytes()
        for name, url in shipped_urls().items():  # the trainers' starting weights: the files themselves
            got = client.get(f"/{url}")
            assert got.status_code == 200 and got.headers["cache-control"] == IMMUTABLE
            assert got.content == (WEIGHTS_DIR / f"{name}.safetensors").read_bytes()
        assert b"reload the page" in client.get(f"/page-code/{'0' * 16}/pad.js").content
        digest = page_assets.script_url("pad.js").split("/")[1]
        for wrong in (f"page-code/{'0' * 16}/pad.js",  # an old hash: an earlier version's page
                      f"page-code/{digest}/models.js",  # another script's hash
                      f"page-code/{digest}/pad.html", f"page-code/{digest}/app.css",  # not a script
                      f"page-code/{digest}/..%2Fpage_assets.py", f"page-code/{digest}/nothing.js",
                      shipped_urls()["cnn"].replace("cnn.", "linear.")):  # a model's file at the other's hash
            got = client.get(f"/{wrong}")
            assert got.status_code == 404, wrong  # the route's "reload the page", or no route at all
            assert b"import" not in got.content and b"function" not in got.content

    # A changed script is a new address, so no browser keeps running the old one.
    changed = tmp_path / "page"
    changed.mkdir()
    (changed / "pad.js").write_text("// changed\n")
    before = page_assets.script_url("pad.js")
    monkeypatch.setattr(page_assets, "PAGE", changed)
    page_assets.served.cache_clear()
    try:
        assert page_assets.script_url("pad.js") != before
    finally:
        monkeypatch.undo()
        page_assets.served.cache_clear()


def test_the_page_holds_the_shipped_weights_once(tmp_path):
    """The pad answers from the shipped weights as soon as the page is there, so its props hold
    them; the Train tab's and the teacher's in-page trainings fetch them from their address when
    they start. Held three times, they were 99 of the page's 209 kB gzipped."""
    import json

    from mnist_demo.settings import from_env
    from mnist_demo.ui import build_demo

    demo = build_demo(settings=from_env({"MNIST_DATA_DIR": str(tmp_path)}))
    config = json.dumps(demo.get_config_file(), default=str)  # (a function or two: their names)
    boxes = {block.elem_id: block for block in demo.blocks.values() if getattr(block, "elem_id", None)}
    for name in MODEL_NAMES:
        assert config.count(boxes["pad"].props["models"][name]["safetensors"]) == 1
    for box in ("page-trainer-box", "class-trainer-box"):
        assert boxes[box].props["shipped"] == shipped_urls()


def test_the_app_sends_its_page_compressed_and_its_scripts_and_data_as_they_are(app_url):
    """The page, the app's configuration inside it, comes gzip'd to a browser that accepts it
    (ui.COMPRESSED); a script of its head then loads from the same app; the training data's
    files, gzip already, are not compressed again."""
    import gzip
    import json
    import urllib.request

    def get(path: str):
        request = urllib.request.Request(app_url + path, headers={"Accept-Encoding": "gzip"})
        with urllib.request.urlopen(request, timeout=30) as reply:
            return reply.headers, reply.read()

    headers, body = get("")
    assert headers["Content-Encoding"] == "gzip"
    page = gzip.decompress(body).decode()
    assert len(body) < len(page) / 2
    script = re.search(r'page-code/[0-9a-f]{16}/recipe\.js', page).group(0)  # in the pad's head
    headers, body = get(script)
    assert gzip.decompress(body) == (PAGE / "recipe.js").read_bytes() and headers["Cache-Control"] == IMMUTABLE
    headers, body = get("mnist-data/manifest.json")
    files = json.loads(gzip.decompress(body) if headers["Content-Encoding"] == "gzip" else body)["files"]
    headers, body = get(files["valid-labels"]["url"])
    assert headers["Content-Encoding"] is None and body[:2] == b"\x1f\x8b"  # the file itself, a gzip stream
