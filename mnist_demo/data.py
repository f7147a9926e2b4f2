"""MNIST exactly as the tutorial loads it: 70,000 digits, pixels / 256 as float32,
the first 50,000 for training and the last 20,000 for validation.

Two sources give identical arrays:
  * OpenML's ``mnist_784`` through scikit-learn's ``fetch_openml`` (the tutorial's path,
    cached by scikit-learn, so only the first call needs the internet);
  * a local folder with the four standard IDX files (``Settings.mnist_dir``, from ``MNIST_DIR``, or
    the trainer's ``--data-dir``).
    OpenML's row order is the 60,000 training digits followed by the 10,000 test digits,
    so concatenating train then t10k reproduces it.

Gunzipping the four files costs every process about a second, so ``load_mnist`` keeps their
decoded bytes in the app's own folder (``data/mnist-idx.npz``, git-ignored; ``Settings.data_dir``,
from ``MNIST_DATA_DIR``, moves it), checked against each file's size and modification time: every run after the first
reads the same uint8 arrays from there. Nothing is ever written beside the IDX files themselves.
"""

from __future__ import annotations

import contextlib
import functools
import gzip
import html
import json
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

PROJECT = Path(__file__).resolve().parents[1]
DEFAULT_DATA_DIR = PROJECT / "data"  # the app's own files when MNIST_DATA_DIR is not set (settings.py)
CACHE_NAME = "mnist-idx.npz"  # the decoded IDX files, in the app's own folder
N_TRAIN = 50_000  # the tutorial's split: X[:50000] / X[50000:]
N_TOTAL = 70_000
IMAGE_SIDE = 28
PIXEL_SCALE = 256.0  # the tutorial divides by 256, not 255: keep it, the weights depend on it

IDX_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
IMAGES_MAGIC, LABELS_MAGIC = 2051, 2049  # 0x0803 / 0x0801: unsigned bytes, 3 and 1 dimensions

NO_DATA_HELP = (
    "Could not download MNIST from OpenML ({reason}). If this machine is offline, point {program} "
    "at a folder holding the four standard MNIST files (train-images-idx3-ubyte.gz, "
    "train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz): {how}."
)
# How each program is pointed at a folder: only the trainer's command line has --data-dir (the
# app's is its environment, and class_host's --data-dir is another folder altogether).
APP_ADVICE = ("the app", "start it as MNIST_DIR=/path/to/folder python app.py")
CLI_ADVICE = ("the trainer", "pass --data-dir /path/to/folder (or set MNIST_DIR=/path/to/folder)")
ANY_ADVICE = ("this program", "set MNIST_DIR=/path/to/folder")


class DataError(RuntimeError):
    """MNIST could not be loaded; the message says which file and what is wrong."""


class NoDataError(DataError):
    """OpenML could not be reached and no folder was given. Its message's advice suits any
    program; ``advice(program, how)`` says it the way one program is pointed at a folder."""

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(self.advice(*ANY_ADVICE))

    def advice(self, program: str, how: str) -> str:
        return NO_DATA_HELP.format(reason=self.reason, program=program, how=how)


@dataclass(frozen=True)
class MNIST:
    x_train: np.ndarray  # (50000, 784) float32 in [0, 255/256]
    y_train: np.ndarray  # (50000,) int64
    x_valid: np.ndarray  # (20000, 784) float32
    y_valid: np.ndarray  # (20000,) int64
    source: str  # where the pixels came from, for metadata and messages


def split(pixels: np.ndarray, labels: np.ndarray, source: str) -> MNIST:
    """The tutorial's conversion and 5:2 split, from 70,000 raw rows (0..255) and labels."""
    pixels = np.asarray(pixels).reshape(N_TOTAL, IMAGE_SIDE * IMAGE_SIDE)
    if pixels.dtype == np.uint8:
        # Bit-identical to the tutorial's float32(X / 256) (dividing by a power of two is exact
        # in both precisions) but 30x faster: no 440 MB float64 intermediate.
        X = pixels.astype(np.float32) * np.float32(1 / PIXEL_SCALE)
    else:
        X = np.float32(pixels / PIXEL_SCALE)  # OpenML's float64 pixels: the tutorial's own line
    Y = np.asarray(labels).astype(np.int64)
    return MNIST(X[:N_TRAIN], Y[:N_TRAIN], X[N_TRAIN:], Y[N_TRAIN:], source)


# ---------------------------------------------------------------------------- IDX files


def _find(folder: Path, stem: str) -> Path:
    for name in (stem, stem + ".gz"):
        if (folder / name).is_file():
            return folder / name
    raise DataError(f"{folder}: missing {stem}.gz (or the uncompressed {stem})")


def read_idx(path: Path, magic: int) -> np.ndarray:
    """One IDX file (``.gz`` or not) as a uint8 array, checking magic number, header and length."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as e:  # gzip raises these for corrupt or truncated archives
        raise DataError(f"{path}: cannot read ({e})") from e
    return parse_idx(raw, magic, str(path))


def parse_idx(raw: bytes, magic: int, where: str = "IDX data") -> np.ndarray:
    """The bytes of one uncompressed IDX file as a uint8 array; DataError names what is wrong."""
    if len(raw) < 8:
        raise DataError(f"{where}: truncated file ({len(raw)} bytes, no IDX header)")
    found = int.from_bytes(raw[:4], "big")
    if found != magic:
        raise DataError(f"{where}: wrong magic number {found}, expected {magic}; not an MNIST "
                        f"{'image' if magic == IMAGES_MAGIC else 'label'} file")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"{where}: truncated header")
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    expected = int(np.prod(shape))
    if len(raw) - header != expected:
        raise DataError(f"{where}: truncated or padded file: header promises {shape} = {expected} "
                        f"bytes of data, found {len(raw) - header}")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)


def idx_bytes(array: np.ndarray) -> bytes:
    """A uint8 array as an uncompressed IDX file (the format ``parse_idx`` reads): images are
    (N, 28, 28), labels (N,)."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    return header + array.tobytes()


def source_stamp(paths: dict[str, Path]) -> str:
    """What the cache must match: each IDX file's resolved path, size and modification time."""
    stats = {key: p.stat() for key, p in paths.items()}
    return json.dumps({key: [str(p.resolve()), stats[key].st_size, stats[key].st_mtime_ns] for key, p in paths.items()})


def read_cache(path: Path, stamp: str) -> dict[str, np.ndarray] | None:
    """The four arrays a cache holds, or None when it is missing, stale, or unreadable in any way."""
    try:
        with np.load(path, allow_pickle=False) as f:
            if str(f["stamp"]) != stamp:
                return None
            arrays = {key: f[key] for key in IDX_FILES}
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):  # missing, truncated, corrupt
        return None
    shapes_ok = all(a.dtype == np.uint8 and a.ndim == (3 if key.endswith("images") else 1) for key, a in arrays.items())
    return arrays if shapes_ok else None


def write_cache(path: Path, stamp: str, arrays: dict[str, np.ndarray]) -> None:
    """Write atomically (a process reading it meanwhile sees the old file or the new one); where
    it cannot be written, nothing is cached and the next run gunzips again."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "wb") as f:
            np.savez(f, stamp=np.array(stamp), **arrays)  # uncompressed: reading it back is a copy
        os.replace(tmp, path)
    except OSError:  # a read-only place, a full disk: nothing cached
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)


def idx_arrays(folder: Path, cache: Path | None = None) -> dict[str, np.ndarray]:
    """The four IDX files as uint8 arrays, keyed as IDX_FILES; from ``cache`` when it matches them."""
    paths = {key: _find(folder, stem) for key, stem in IDX_FILES.items()}

    def decoded():
        return {key: read_idx(path, IMAGES_MAGIC if key.endswith("images") else LABELS_MAGIC)
                for key, path in paths.items()}

    if cache is None:
        return decoded()
    stamp = source_stamp(paths)
    arrays = read_cache(cache, stamp)
    if arrays is None:
        arrays = decoded()
        write_cache(cache, stamp, arrays)
    return arrays


def load_idx_folder(folder: str | os.PathLike, cache: Path | None = None) -> MNIST:
    """MNIST from a folder of the four IDX files (``.gz`` or not); ``cache``: where their decoded
    bytes are kept between runs (None: gunzip every time)."""
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise DataError(f"{folder}: MNIST folder does not exist")
    arrays = idx_arrays(folder, cache)
    for part in ("train", "test"):
        images, labels = arrays[f"{part}_images"], arrays[f"{part}_labels"]
        if images.ndim != 3 or images.shape[1:] != (IMAGE_SIDE, IMAGE_SIDE):
            raise DataError(f"{folder}: {IDX_FILES[part + '_images']} holds images of shape "
                            f"{images.shape[1:]}, expected 28x28")
        if len(images) != len(labels):
            raise DataError(f"{folder}: {len(images)} {part} images but {len(labels)} labels")
    pixels = np.concatenate([arrays["train_images"], arrays["test_images"]])
    labels = np.concatenate([arrays["train_labels"], arrays["test_labels"]])
    if len(pixels) != N_TOTAL:
        raise DataError(f"{folder}: {len(pixels)} digits in all, expected {N_TOTAL} (60,000 + 10,000)")
    if labels.max() > 9:
        raise DataError(f"{folder}: label {labels.max()} out of range 0..9")
    return split(pixels, labels, source=str(folder))


# ---------------------------------------------------------------------------- OpenML


def load_openml(data_home: str | None = None) -> MNIST:
    """The tutorial's own path. scikit-learn caches the download under ``data_home``."""
    from sklearn.datasets import fetch_openml  # heavy import, only when this path is taken

    try:
        X, Y = fetch_openml("mnist_784", return_X_y=True, as_frame=False, data_home=data_home)
    except Exception as e:  # URLError, HTTPError, socket errors, OpenML errors: all mean "no data"
        raise NoDataError(f"{type(e).__name__}: {e}") from e
    return split(X, Y, source="openml:mnist_784")


# ---------------------------------------------------------------------------- entry point


def resolve_data_dir(data_dir: str | os.PathLike | None = None) -> str | None:
    """The folder as one key for the cache of loaded datasets; None means OpenML. The environment
    is not consulted here: Settings (settings.py) reads MNIST_DIR, and its callers pass the folder."""
    return str(Path(data_dir).expanduser().resolve()) if data_dir else None


@functools.lru_cache(maxsize=2)
def _load_cached(data_dir: str | None, data_home: str | None, cache_dir: str | None) -> MNIST:
    cache = Path(cache_dir) / CACHE_NAME if cache_dir else None
    data = load_idx_folder(data_dir, cache) if data_dir else load_openml(data_home)
    for array in (data.x_train, data.y_train, data.x_valid, data.y_valid):
        array.flags.writeable = False  # shared by every caller: nobody may edit them in place
    return data


def load_mnist(data_dir: str | os.PathLike | None = None, data_home: str | None = None,
               cache_dir: str | os.PathLike | None = None) -> MNIST:
    """MNIST split as in the tutorial, loaded once per process and source; the arrays are
    shared between callers and read-only. ``data_dir``: the four IDX files (None: OpenML);
    ``cache_dir``: the app's own folder, where their decoded bytes are kept (None: not kept)."""
    return _load_cached(resolve_data_dir(data_dir), data_home, str(cache_dir) if cache_dir else None)


@dataclass(frozen=True)
class MnistSource:
    """Where this process loads MNIST from, as the host set it: ``Settings.mnist``, built once where
    the app or the command line is built and handed to what loads it (handlers, ZeroGPU's worker,
    which gets it pickled: hence a plain frozen dataclass, not the settings themselves)."""

    folder: str | None = None  # the four IDX files; None: download from OpenML
    cache_dir: Path | None = None  # where their decoded bytes are kept between runs; None: not kept

    def load(self) -> MNIST:
        return load_mnist(self.folder, cache_dir=self.cache_dir)

    def for_app(self) -> MNIST:
        """The dataset for an app event, or its DataError as a ``gr.Error`` (which says how to point
        the app at local files). Escaped: Gradio shows the message as HTML, and an offline reason such
        as ``<urlopen error …>`` would otherwise vanish as an unknown tag, taking the advice after it."""
        import gradio as gr  # only app events need it; the CLI and the tests of this module do not

        try:
            return self.load()
        except DataError as e:
            raise gr.Error(html.escape(e.advice(*APP_ADVICE) if isinstance(e, NoDataError) else str(e))) from None
