"""A Gradio API client for the tests and the benchmarks, as a script would use one.

``gradio_client.Client`` downloads every file an event returns (a training's plots and weights,
once per streamed update) through a folder it makes in the system's temporary folder and never
removes: 40 hex characters, one per file, left empty (``Client._download_file`` in gradio_client
2.x). A run of the suite left 234 such folders in /tmp. So our clients download nothing: a file
comes back as Gradio's file data (a dict with its ``url``), and ``download`` fetches the ones a
caller reads, into a folder the caller owns."""

from __future__ import annotations

import urllib.request
from pathlib import Path


def api_client(url: str):
    """A quiet client of the app at ``url`` that leaves files on the server."""
    from gradio_client import Client

    return Client(url, verbose=False, download_files=False)


def download(files: list[dict], folder: Path) -> list[Path]:
    """Each of an event's returned files (Gradio's file data) fetched into ``folder``, by name."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for file in files:
        path = folder / Path(file["path"]).name
        with urllib.request.urlopen(file["url"], timeout=30) as answer:
            path.write_bytes(answer.read())
        paths.append(path)
    return paths
