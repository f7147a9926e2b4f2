"""The files visitors asked for (their exports and trained weights), each session's in a folder of
its own under its process's root (``ROOT/<pid>``). When the app starts, the roots of processes
that are gone are removed (what a previous run left, even one killed with -9; other apps running
on the machine keep theirs), a session's folder goes when the session ends, and each new folder first
sweeps the root: folders older than ``MAX_AGE`` go, then the oldest until the root is under
``MAX_BYTES``, so sessions that end without a goodbye (evicted, a browser that vanished) cannot
fill the disk. Gradio serves copies of these files from its own cache, which it empties itself."""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
import time
from pathlib import Path

ROOT = Path(tempfile.gettempdir()) / "mnist-draw-train-downloads"
MAX_AGE = 3600.0  # seconds a session's folder may outlive its last download
MAX_BYTES = 512 * 1024 * 1024  # all sessions' downloads together


def process_root() -> Path:
    return ROOT / str(os.getpid())


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def reset(root: Path | None = None) -> None:
    """Start empty: what earlier runs of the app left (their processes are gone) is removed, and
    this process's own root is made fresh."""
    root = root or ROOT
    root.mkdir(parents=True, exist_ok=True)
    for child in root.iterdir():
        if not child.name.isdigit() or int(child.name) == os.getpid() or not alive(int(child.name)):
            shutil.rmtree(child, ignore_errors=True)
    (root / str(os.getpid())).mkdir()


def new_owner() -> str:
    """A session's folder name: random, so no visitor can guess another's."""
    return secrets.token_hex(16)


def new_folder(owner: str, kind: str, root: Path | None = None) -> Path:
    """A fresh, empty folder for one download of this kind; the session's earlier ones of the
    same kind are removed (a new name each time: a browser never gets a stale cached copy)."""
    root = root or process_root()
    sweep(root)
    home = root / owner
    home.mkdir(parents=True, exist_ok=True)
    for old in home.glob(f"{kind}-*"):
        shutil.rmtree(old, ignore_errors=True)
    home.touch()  # its age counts from its last download
    return Path(tempfile.mkdtemp(prefix=f"{kind}-", dir=home))


def remove(owner: str, root: Path | None = None) -> None:
    shutil.rmtree((root or process_root()) / owner, ignore_errors=True)


def sweep(root: Path | None = None, now: float | None = None, max_age: float = MAX_AGE,
          max_bytes: int = MAX_BYTES) -> None:
    """Remove session folders older than ``max_age``, then the oldest until under ``max_bytes``."""
    root, now = root or process_root(), time.time() if now is None else now
    if not root.is_dir():
        return
    folders = []
    for home in root.iterdir():
        try:
            age, size = now - home.stat().st_mtime, sum(f.stat().st_size for f in home.rglob("*") if f.is_file())
        except OSError:  # removed meanwhile by its own session
            continue
        if age > max_age:
            shutil.rmtree(home, ignore_errors=True)
        else:
            folders.append((age, size, home))
    total = sum(size for _, size, _ in folders)
    for _age, size, home in sorted(folders, reverse=True):  # oldest first
        if total <= max_bytes:
            break
        shutil.rmtree(home, ignore_errors=True)
        total -= size
