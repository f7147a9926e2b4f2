"""Digit collections as files: MNIST's own IDX pair (``.gz``), which ``mnist_demo.data`` reads
like MNIST itself, and a zip of 28x28 PNGs (one folder per digit) for people.

Reading is strict, since the files come from anyone: every problem is a ``DigitFileError`` whose
message names the file and what is wrong, and nothing is returned unless every file is good.

    images-idx3-ubyte: magic 2051, N, 28, 28, then N*784 bytes (0..255, ink bright)
    labels-idx1-ubyte: magic 2049, N, then N bytes (0..9)
"""

from __future__ import annotations

import gzip
import io
import os
import re
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from .collection import CAP, PIXELS, Digits
from .data import IMAGE_SIDE, IMAGES_MAGIC, LABELS_MAGIC, DataError, idx_bytes, parse_idx

IMAGES_KIND, LABELS_KIND = "images-idx3", "labels-idx1"  # what MNIST's own file names say they hold
IMAGES_SUFFIX, LABELS_SUFFIX = f"{IMAGES_KIND}-ubyte.gz", f"{LABELS_KIND}-ubyte.gz"
# A file's contents may not exceed what CAP digits need (plus headers): no gzip or zip bombs.
MAX_IDX_BYTES = 16 + CAP * PIXELS
MAX_PNG_BYTES = 64 * 1024


class DigitFileError(ValueError):
    """A file could not be read as digits; the message says which and why."""


# ---------------------------------------------------------------------------- writing


def write_idx_pair(digits: Digits, folder: str | os.PathLike, stem: str) -> tuple[Path, Path]:
    """``<stem>-images-idx3-ubyte.gz`` and ``<stem>-labels-idx1-ubyte.gz`` in ``folder``."""
    images = Path(folder) / f"{stem}-{IMAGES_SUFFIX}"
    labels = Path(folder) / f"{stem}-{LABELS_SUFFIX}"
    # mtime=0: the same digits always give the same bytes
    images.write_bytes(gzip.compress(idx_bytes(digits.pixels.reshape(-1, IMAGE_SIDE, IMAGE_SIDE)), mtime=0))
    labels.write_bytes(gzip.compress(idx_bytes(digits.labels), mtime=0))
    return images, labels


def png_bytes(pixels: np.ndarray) -> bytes:
    """One digit's 784 bytes as a 28x28 greyscale PNG (white ink on black, as MNIST stores it)."""
    out = io.BytesIO()
    Image.fromarray(np.asarray(pixels, np.uint8).reshape(IMAGE_SIDE, IMAGE_SIDE), mode="L").save(out, "PNG")
    return out.getvalue()


def write_png_zip(digits: Digits, path: str | os.PathLike) -> Path:
    """A zip with one folder per digit: ``3/3-0007.png`` is the digit with id 7, a 3."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:  # PNGs are compressed already
        for pixels, label, digit_id in zip(digits.pixels, digits.labels, digits.ids, strict=True):
            z.writestr(f"{label}/{label}-{digit_id:04d}.png", png_bytes(pixels))
    return Path(path)


# ---------------------------------------------------------------------------- reading


def _read_bounded(path: Path, limit: int, gz: bool) -> bytes:
    """The file's bytes, gunzipped if ``gz``, refusing anything beyond ``limit`` bytes."""
    try:
        with (gzip.open if gz else open)(path, "rb") as f:
            raw = f.read(limit + 1)
    except (OSError, EOFError, gzip.BadGzipFile) as e:
        raise DigitFileError(f"{path.name}: cannot read it ({type(e).__name__}: damaged or truncated).") from None
    if len(raw) > limit:
        raise DigitFileError(f"{path.name}: larger than {CAP:,} digits need; not a collection of digits.")
    return raw


def _pair_key(name: str) -> str:
    """What an images file and its labels file share: the name without 'images-idx3' / 'labels-idx1'."""
    return name.replace(IMAGES_KIND, "").replace(LABELS_KIND, "")


def _png_digits(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Digits from a zip of PNGs whose folder (or name's first character) is the label."""
    pixels, labels = [], []
    try:
        with zipfile.ZipFile(path) as z:
            entries = [e for e in z.infolist() if not e.is_dir() and e.filename.lower().endswith(".png")
                       and not Path(e.filename).name.startswith(".")]
            if not entries:
                raise DigitFileError(f"{path.name}: a zip without PNG pictures in it.")
            if len(entries) > CAP:
                raise DigitFileError(f"{path.name}: {len(entries):,} pictures, more than a collection's "
                                     f"{CAP:,}.")
            for entry in entries:
                parts = Path(entry.filename).parts
                label = parts[-2] if len(parts) > 1 else Path(entry.filename).name[:1]
                if not re.fullmatch(r"[0-9]", label):
                    raise DigitFileError(f"{path.name}: {entry.filename} is not in a folder named by its "
                                         "digit (0 to 9).")
                if entry.file_size > MAX_PNG_BYTES:
                    raise DigitFileError(f"{path.name}: {entry.filename} is too large for a 28x28 digit.")
                with Image.open(io.BytesIO(z.read(entry))) as img:
                    if img.size != (IMAGE_SIDE, IMAGE_SIDE):
                        raise DigitFileError(f"{path.name}: {entry.filename} is {img.size[0]}x{img.size[1]}, "
                                             "not 28x28.")
                    pixels.append(np.asarray(img.convert("L"), np.uint8).reshape(PIXELS))
                labels.append(int(label))
    except (zipfile.BadZipFile, UnidentifiedImageError, OSError, EOFError) as e:
        raise DigitFileError(f"{path.name}: a damaged zip or picture ({type(e).__name__}).") from None
    return np.stack(pixels), np.array(labels, np.uint8)


def _idx(raw: bytes, magic: int, name: str) -> np.ndarray:
    try:
        return parse_idx(raw, magic, name)
    except DataError as e:
        raise DigitFileError(f"{e}.") from None


def read_digit_files(paths) -> tuple[np.ndarray, np.ndarray]:
    """Digits from any number of files: IDX image/label pairs (``.gz`` or not; a pair's names match
    but for 'images-idx3' / 'labels-idx1', or it is the only pair) and zips of PNGs. Returns
    ((N, 784) uint8, (N,) uint8), or raises DigitFileError for the first bad file."""
    images, labels, parts = {}, {}, []
    for path in map(Path, paths):
        with open(path, "rb") as f:
            head = f.read(4)
        if head == b"PK\x03\x04":
            parts.append(_png_digits(path))
            continue
        raw = _read_bounded(path, MAX_IDX_BYTES, gz=head[:2] == b"\x1f\x8b")
        magic = int.from_bytes(raw[:4], "big") if len(raw) >= 4 else None
        if magic == IMAGES_MAGIC:
            images[_pair_key(path.name)] = (path.name, _idx(raw, IMAGES_MAGIC, path.name))
        elif magic == LABELS_MAGIC:
            labels[_pair_key(path.name)] = (path.name, _idx(raw, LABELS_MAGIC, path.name))
        else:
            raise DigitFileError(f"{path.name}: not an MNIST IDX file (images or labels, .gz or not) nor a "
                                 "zip of PNGs.")
    if len(images) == len(labels) == 1:  # one pair, whatever the files are called
        images, labels = {"": next(iter(images.values()))}, {"": next(iter(labels.values()))}
    for key in images.keys() | labels.keys():
        if key not in labels:
            raise DigitFileError(f"{images[key][0]}: its labels file (…labels-idx1-ubyte.gz) is missing.")
        if key not in images:
            raise DigitFileError(f"{labels[key][0]}: its images file (…images-idx3-ubyte.gz) is missing.")
        (image_name, x), (label_name, y) = images[key], labels[key]
        if x.ndim != 3 or x.shape[1:] != (IMAGE_SIDE, IMAGE_SIDE):
            raise DigitFileError(f"{image_name}: holds pictures of shape {x.shape[1:]}, not 28x28.")
        if y.ndim != 1:
            raise DigitFileError(f"{label_name}: labels must be a list, found shape {y.shape}.")
        if len(x) != len(y):
            raise DigitFileError(f"{image_name} holds {len(x):,} pictures but {label_name} "
                                 f"{len(y):,} labels.")
        if len(y) and y.max() > 9:
            raise DigitFileError(f"{label_name}: label {y.max()} is not a digit (0 to 9).")
        parts.append((x.reshape(-1, PIXELS), y))
    if not parts:
        raise DigitFileError("No files given.")
    return np.concatenate([p for p, _ in parts]), np.concatenate([y for _, y in parts])


def load_extra_digits(paths) -> Digits:
    """Files named on the command line as Digits. A lone IDX file brings its partner from beside it."""
    paths = [Path(p) for p in paths]
    for p in list(paths):
        for a, b in ((IMAGES_KIND, LABELS_KIND), (LABELS_KIND, IMAGES_KIND)):
            partner = p.with_name(p.name.replace(a, b))
            if a in p.name and partner.exists() and partner not in paths:
                paths.append(partner)
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise DigitFileError(f"{', '.join(missing)}: no such file.")
    pixels, labels = read_digit_files(paths)
    return Digits(pixels, labels, np.arange(len(labels), dtype=np.int64))
