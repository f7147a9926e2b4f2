"""The training data the page downloads (mnist_demo/page_data.py): the very digits and split of
data.py, named by their hash, made once, and served immutable behind the app's middleware."""

from __future__ import annotations

import gzip
import hashlib
import json

import gradio as gr
import numpy as np
import pytest
from fastapi.testclient import TestClient

from mnist_demo.data import IMAGES_MAGIC, LABELS_MAGIC, MnistSource, parse_idx
from mnist_demo.limits import app_kwargs
from mnist_demo.page_data import FILES, IMMUTABLE, PageData, file_path, make_files, routes


@pytest.fixture(scope="module")
def made(mnist, tmp_path_factory):
    folder = tmp_path_factory.mktemp("page-data")
    return folder, make_files(mnist, folder)


def test_the_files_hold_data_py_s_split_byte_for_byte_and_are_named_by_their_hash(mnist, made):
    folder, manifest = made
    assert (manifest.train, manifest.valid) == (50_000, 20_000)
    arrays = {}
    for name in FILES:
        entry = manifest.files[name]
        packed = file_path(folder, name, entry["sha256"]).read_bytes()
        assert hashlib.sha256(packed).hexdigest() == entry["sha256"] and len(packed) == entry["bytes"]
        arrays[name] = parse_idx(gzip.decompress(packed), IMAGES_MAGIC if name.endswith("images") else LABELS_MAGIC)
    # data.py's floats are the bytes / 256: multiplied back, exactly the files' bytes
    assert np.array_equal(arrays["train-images"].reshape(-1, 784).astype(np.float32) / 256, mnist.x_train)
    assert np.array_equal(arrays["valid-images"].reshape(-1, 784).astype(np.float32) / 256, mnist.x_valid)
    assert np.array_equal(arrays["train-labels"], mnist.y_train)
    assert np.array_equal(arrays["valid-labels"], mnist.y_valid)
    assert sum(f["bytes"] for f in manifest.files.values()) < 12_000_000  # the budget per device
    sha = manifest.files["train-labels"]["sha256"]
    assert manifest.as_page()["files"]["train-labels"]["url"] == f"mnist-data/{sha}/train-labels.idx.gz"


def test_they_are_made_once_and_again_only_when_mnist_changes(mnist, made, tmp_path):
    folder, manifest = made
    stamps = {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}
    assert make_files(mnist, folder) == manifest
    assert {p.name: p.stat().st_mtime_ns for p in folder.iterdir()} == stamps  # nothing rewritten
    other = tmp_path / "other"
    other.mkdir()
    for p in folder.iterdir():
        (other / p.name).write_bytes(p.read_bytes())
    changed = type(mnist)(mnist.x_train, (mnist.y_train + 1) % 10, mnist.x_valid, mnist.y_valid, "changed")
    remade = make_files(changed, other)
    assert remade.files["train-labels"] != manifest.files["train-labels"]
    assert remade.files["train-images"] == manifest.files["train-images"]  # the same bytes, the same name
    assert sorted(p.name for p in other.glob("*.idx.gz")) == sorted(
        file_path(other, n, f["sha256"]).name for n, f in remade.files.items())  # the stale file removed


def test_the_routes_serve_them_immutable_behind_the_body_limit(made, monkeypatch):
    folder, manifest = made
    with gr.Blocks() as demo:
        gr.Markdown("x")
    data = PageData(MnistSource(), folder.parent)
    monkeypatch.setattr(data, "folder", folder)
    data._manifest = manifest  # made already: the route must not load MNIST again
    demo.page_data = data
    app = gr.routes.App.create_app(demo, app_kwargs=app_kwargs() | {"routes": routes()})
    with TestClient(app) as client:
        listed = client.get("/mnist-data/manifest.json")
        assert listed.status_code == 200 and listed.headers["cache-control"] == "no-cache"
        # Asked again by a page that has it (a reload): the same files, so 304 and no body.
        again = client.get("/mnist-data/manifest.json", headers={"If-None-Match": listed.headers["etag"]})
        assert again.status_code == 304 and again.content == b""
        assert client.get("/mnist-data/manifest.json", headers={"If-None-Match": '"old"'}).json() == listed.json()
        assert listed.json()["same_machine"] is False  # the test client is no address of this machine
    with TestClient(app, client=("127.0.0.1", 50000)) as here:  # the serving laptop's own browser
        assert here.get("/mnist-data/manifest.json").json()["same_machine"] is True
        # through a proxy or Gradio's share tunnel, which connect from this machine: someone else
        forwarded = here.get("/mnist-data/manifest.json", headers={"X-Forwarded-For": "203.0.113.9"})
        assert forwarded.json()["same_machine"] is False
    with TestClient(app) as client:
        url = listed.json()["files"]["valid-labels"]["url"]
        got = client.get(f"/{url}", headers={"Accept-Encoding": "gzip, br"})
        assert got.status_code == 200 and got.headers["cache-control"] == IMMUTABLE
        assert "content-encoding" not in got.headers  # the gzip file as it is: the page opens it
        assert hashlib.sha256(got.content).hexdigest() == manifest.files["valid-labels"]["sha256"]
        assert client.get(f"/mnist-data/{'0' * 64}/valid-labels.idx.gz").status_code == 404  # an old hash
        assert client.get(f"/mnist-data/{manifest.files['valid-labels']['sha256']}/../x").status_code == 404
        too_large = client.post("/mnist-data/manifest.json", content=b"0" * 2_000_000)
        assert too_large.status_code == 413 and "too large" in json.loads(too_large.content)["error"]
