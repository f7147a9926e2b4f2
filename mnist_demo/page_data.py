"""MNIST for the page's own training (issue 28): the tutorial's 50,000 training and 20,000
validation digits as four static files, made once from the same source and split as ``data.py``
gives Python, and served by the app as immutable, cacheable files.

The files are IDX (the format ``data.parse_idx`` reads, uint8), gzip-compressed, named by their
SHA-256 in the URL: ``mnist-data/<sha256>/<name>.idx.gz``. They are served as they are on disk
(``application/gzip``, no ``Content-Encoding``) and the page gunzips them itself
(``DecompressionStream``): so the browser keeps and hashes the very bytes that were served (11 MB,
not the 55 MB they open to), no proxy or middleware recompresses them, and the hash in the URL is
the hash of what arrives. ``manifest.json`` (never cached) says which hashes are current.

They are made on the first request for the manifest into the app's own folder
(``Settings.data_dir``/``page-data``, never ``weights/``, git-ignored), and made again only when
MNIST's bytes change (the manifest records the hash of the raw arrays). gzip level 6: 8.18 MB for
the training images in 0.7 s, against 8.02 MB in 10 s at level 9.

Routes are plain Starlette routes given to Gradio's FastAPI app through ``app_kwargs`` (as the
body-limit middleware is, limits.py), so every middleware applies to them as to Gradio's own.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import json
import os
import threading
from pathlib import Path

import numpy as np

from .data import IMAGE_SIDE, PIXEL_SCALE, MnistSource, idx_bytes
from .lan import is_this_machine

FOLDER = "page-data"  # under Settings.data_dir
ROUTE = "mnist-data"  # the URLs' first part
FILES = ("train-images", "train-labels", "valid-images", "valid-labels")
GZIP_LEVEL = 6
IMMUTABLE = "public, max-age=31536000, immutable"
MANIFEST_VERSION = 1


def raw_arrays(data) -> dict[str, np.ndarray]:
    """The split as MNIST's own bytes: the pixels were divided by 256 (exact in float32), so
    multiplying back gives the IDX files' values exactly."""
    def pixels(x):
        return np.rint(np.asarray(x, np.float32) * np.float32(PIXEL_SCALE)).astype(np.uint8).reshape(
            -1, IMAGE_SIDE, IMAGE_SIDE)

    return {"train-images": pixels(data.x_train), "train-labels": np.asarray(data.y_train).astype(np.uint8),
            "valid-images": pixels(data.x_valid), "valid-labels": np.asarray(data.y_valid).astype(np.uint8)}


def source_hash(arrays: dict[str, np.ndarray]) -> str:
    """What the files must have been made from: the raw arrays' bytes, in FILES order."""
    h = hashlib.sha256()
    for name in FILES:
        h.update(idx_bytes(arrays[name]))
    return h.hexdigest()


def file_path(folder: Path, name: str, sha: str) -> Path:
    return folder / f"{name}-{sha}.idx.gz"


@dataclasses.dataclass(frozen=True)
class Manifest:
    """What the page is told: each file's hash and size, and how many digits each set holds."""

    source: str  # source_hash of the arrays the files were made from
    files: dict[str, dict]  # name -> {"sha256", "bytes"}
    train: int
    valid: int

    def as_page(self) -> dict:
        return {"version": MANIFEST_VERSION, "train": self.train, "valid": self.valid,
                "files": {name: {"url": f"{ROUTE}/{f['sha256']}/{name}.idx.gz", **f}
                          for name, f in self.files.items()}}


def read_manifest(folder: Path) -> Manifest | None:
    try:
        saved = json.loads((folder / "manifest.json").read_text())
        manifest = Manifest(saved["source"], saved["files"], int(saved["train"]), int(saved["valid"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    ok = set(manifest.files) == set(FILES) and all(
        file_path(folder, n, f["sha256"]).is_file() and file_path(folder, n, f["sha256"]).stat().st_size == f["bytes"]
        for n, f in manifest.files.items())
    return manifest if ok else None


def make_files(data, folder: Path) -> Manifest:
    """The four files for ``data`` (an MNIST from data.py) in ``folder``, made only when the ones
    there were made from other bytes. Each written atomically; older files removed."""
    arrays = raw_arrays(data)
    source = source_hash(arrays)
    kept = read_manifest(folder)
    if kept is not None and kept.source == source:
        return kept
    folder.mkdir(parents=True, exist_ok=True)
    files = {}
    for name in FILES:
        packed = gzip.compress(idx_bytes(arrays[name]), GZIP_LEVEL, mtime=0)  # mtime 0: the same bytes each time
        sha = hashlib.sha256(packed).hexdigest()
        path = file_path(folder, name, sha)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_bytes(packed)
        os.replace(tmp, path)
        files[name] = {"sha256": sha, "bytes": len(packed)}
    manifest = Manifest(source, files, len(arrays["train-labels"]), len(arrays["valid-labels"]))
    tmp = folder / f".manifest.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(dataclasses.asdict(manifest)))
    os.replace(tmp, folder / "manifest.json")
    current = {file_path(folder, n, f["sha256"]).name for n, f in files.items()}
    for old in folder.glob("*.idx.gz"):
        if old.name not in current:
            old.unlink(missing_ok=True)
    return manifest


class PageData:
    """The files of one app: made once, on the first request, by one thread while others wait."""

    def __init__(self, mnist: MnistSource, data_dir: Path):
        self.mnist, self.folder = mnist, Path(data_dir) / FOLDER
        self._lock = threading.Lock()
        self._manifest: Manifest | None = None

    def manifest(self) -> Manifest:
        with self._lock:
            if self._manifest is None:
                self._manifest = make_files(self.mnist.load(), self.folder)
            return self._manifest

    def path_of(self, sha: str, name: str) -> Path | None:
        """The file for a URL's hash and name, or None when it is not one of the current files."""
        files = self.manifest().files
        if name not in files or files[name]["sha256"] != sha:
            return None
        return file_path(self.folder, name, sha)


# ---------------------------------------------------------------------------- the routes


def _page_data(request) -> PageData | None:
    blocks = request.app.get_blocks()
    return getattr(blocks, "page_data", None)


async def manifest_route(request):
    import asyncio

    from starlette.responses import JSONResponse, Response

    data = _page_data(request)
    if data is None:
        return JSONResponse({"error": "This app serves no training data."}, status_code=404)
    try:
        manifest = await asyncio.to_thread(data.manifest)
    except Exception as e:  # no MNIST here (offline, no MNIST_DIR), or a folder it cannot write: the page says so
        return JSONResponse({"error": f"the server could not prepare MNIST's digits ({e})"}, status_code=503,
                            headers={"Cache-Control": "no-store"})
    # no-cache: the browser asks each time, and gets 304 and no body while the files are the same
    # (a reload's training downloads nothing).
    # same_machine: the page is this server's own machine (a laptop serving its class), whose
    # training then leaves the server a core (train_box.js). A request a proxy or tunnel forwarded
    # (Gradio's --share connects from this machine) came from elsewhere. The addresses are read in
    # a thread: off Linux, the host name's lookup may take seconds.
    forwarded = "x-forwarded-for" in request.headers or "forwarded" in request.headers
    here = not forwarded and await asyncio.to_thread(is_this_machine, request.client.host if request.client else None)
    page = manifest.as_page() | {"same_machine": here}
    tag = '"' + hashlib.sha256(json.dumps(page, sort_keys=True).encode()).hexdigest()[:32] + '"'
    headers = {"Cache-Control": "no-cache", "ETag": tag}
    if tag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    return JSONResponse(page, headers=headers)


async def file_route(request):
    import asyncio

    from starlette.responses import FileResponse, JSONResponse

    data = _page_data(request)
    name = request.path_params["name"]
    path = None
    if data is not None and name.endswith(".idx.gz"):
        path = await asyncio.to_thread(data.path_of, request.path_params["sha"], name[:-len(".idx.gz")])
    if path is None:  # an old hash: the page reads the manifest again
        return JSONResponse({"error": "No such file: read manifest.json again."}, status_code=404)
    return FileResponse(path, media_type="application/gzip", headers={"Cache-Control": IMMUTABLE})


def routes() -> list:
    """The data routes, for Gradio's FastAPI app (``app_kwargs``'s ``routes``: they come before
    Gradio's own, and its middleware wraps them all)."""
    from starlette.routing import Route

    return [Route(f"/{ROUTE}/manifest.json", manifest_route, methods=["GET", "HEAD"]),
            Route(f"/{ROUTE}/{{sha}}/{{name}}", file_route, methods=["GET", "HEAD"])]
