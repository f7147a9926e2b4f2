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
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

from .collection import CAP, PIXELS, Digits
from .data import IMAGE_SIDE, IMAGES_MAGIC, LABELS_MAGIC, idx_bytes
from .pictures import open_image
from .preprocess import ImageInputError

IMAGES_KIND, LABELS_KIND = "images-idx3", "labels-idx1"  # what MNIST's own file names say they hold
IMAGES_SUFFIX, LABELS_SUFFIX = f"{IMAGES_KIND}-ubyte.gz", f"{LABELS_KIND}-ubyte.gz"
# A file's contents may not exceed what CAP digits need (plus headers): no gzip or zip bombs.
MAX_IDX_BYTES = 16 + CAP * PIXELS
MAX_PNG_BYTES = 64 * 1024  # one 28x28 picture (they are ~300 bytes)
MAX_ZIP_BYTES = 16 * 1024 * 1024  # all of a zip's pictures unpacked (CAP digits are ~1 MB as PNGs)
MAX_ZIP_MEMBERS = CAP + 100  # pictures, their ten folders and a few more
MAX_FILES = 50  # files in one import (an export is three)


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


def png_bytes(picture: np.ndarray) -> bytes:
    """A picture as a PNG: one digit's 784 bytes as a 28x28 greyscale one (white ink on black, as
    MNIST stores it), or any uint8 picture, H x W grey or H x W x 3 colour, as it is."""
    picture = np.asarray(picture, np.uint8)
    out = io.BytesIO()
    Image.fromarray(picture.reshape(IMAGE_SIDE, IMAGE_SIDE) if picture.ndim == 1 else picture).save(out, "PNG")
    return out.getvalue()


def write_png_zip(digits: Digits, path: str | os.PathLike) -> Path:
    """A zip with one folder per digit: ``3/3-0007.png`` is the digit with id 7, a 3."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:  # PNGs are compressed already
        for pixels, label, digit_id in zip(digits.pixels, digits.labels, digits.ids, strict=True):
            z.writestr(f"{label}/{label}-{digit_id:04d}.png", png_bytes(pixels))
    return Path(path)


# ---------------------------------------------------------------------------- reading
#
# Every bound is checked before the work it bounds: the counts in all the IDX headers are added
# up before any digit is decompressed, a zip's member count is read from its end record before
# its directory is parsed, and each picture's size from its header before it is decoded.



def write_export(digits: Digits, folder: str | os.PathLike, stem: str) -> list[str]:
    """An export, as Your digits and a class's teacher give it: MNIST's IDX pair (any MNIST tool and
    the command line read it) and the same digits as a zip of PNGs."""
    images, labels = write_idx_pair(digits, folder, stem)
    return [str(images), str(labels), str(write_png_zip(digits, Path(folder) / f"{stem}-png.zip"))]

def _open(path: Path, gz: bool):
    return gzip.open(path, "rb") if gz else open(path, "rb")


def _damaged(path: Path, e: BaseException) -> DigitFileError:
    return DigitFileError(f"{path.name}: cannot read it ({type(e).__name__}: damaged or truncated).")


def _idx_header(path: Path, gz: bool) -> tuple[int, int]:
    """(magic, count) from an IDX file's header, checked: images are N x 28 x 28, labels N,
    N at most CAP. Reads (and for .gz decompresses) only the header's bytes."""
    try:
        with _open(path, gz) as f:
            head = f.read(16)
    except (OSError, EOFError, zlib.error) as e:
        raise _damaged(path, e) from None
    magic = int.from_bytes(head[:4], "big") if len(head) >= 4 else None
    if magic not in (IMAGES_MAGIC, LABELS_MAGIC):
        raise DigitFileError(f"{path.name}: not an MNIST IDX file (images or labels, .gz or not) nor a "
                             "zip of PNGs.")
    ndim = 3 if magic == IMAGES_MAGIC else 1
    if len(head) < 4 + 4 * ndim:
        raise DigitFileError(f"{path.name}: truncated header.")
    dims = [int.from_bytes(head[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]  # Python ints: no wrap
    if magic == IMAGES_MAGIC and dims[1:] != [IMAGE_SIDE, IMAGE_SIDE]:
        raise DigitFileError(f"{path.name}: holds pictures of {dims[1]:,}x{dims[2]:,} pixels, not 28x28.")
    if dims[0] > CAP:
        raise DigitFileError(f"{path.name}: declares {dims[0]:,} digits, more than a collection's {CAP:,}.")
    return magic, dims[0]


def _read_idx(path: Path, gz: bool, magic: int, count: int) -> np.ndarray:
    """The file's digits (count x 784) or labels (count,), decompressing no more than they need."""
    header = 16 if magic == IMAGES_MAGIC else 8
    expected = header + count * (PIXELS if magic == IMAGES_MAGIC else 1)
    try:
        with _open(path, gz) as f:
            raw = f.read(expected + 1)  # a bounded read: a gzip bomb stops here
    except (OSError, EOFError, zlib.error) as e:
        raise _damaged(path, e) from None
    if len(raw) != expected:
        raise DigitFileError(f"{path.name}: truncated or padded file: its header promises {count:,} "
                             f"{'pictures' if magic == IMAGES_MAGIC else 'labels'} ({expected - header:,} bytes), "
                             f"found {'more' if len(raw) > expected else f'{len(raw) - header:,} bytes'}.")
    data = np.frombuffer(raw, np.uint8, offset=header)
    return data.reshape(count, PIXELS) if magic == IMAGES_MAGIC else data


def _pair_key(name: str) -> str:
    """What an images file and its labels file share: the name without 'images-idx3' / 'labels-idx1'."""
    return name.replace(IMAGES_KIND, "").replace(LABELS_KIND, "")


def _zip_members(path: Path) -> int:
    """How many members a zip says it has, from its end record: read before the (maybe huge)
    central directory is parsed. Zip64 (more than 65,535 members or 4 GB) counts as too many."""
    with open(path, "rb") as f:
        f.seek(0, os.SEEK_END)
        size = f.tell()
        f.seek(max(0, size - 65_557))  # the end record (22 bytes) and a comment of up to 65,535
        tail = f.read()
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) < at + 22:
        raise DigitFileError(f"{path.name}: a damaged zip (no end record).")
    members = int.from_bytes(tail[at + 10: at + 12], "little")
    return MAX_ZIP_MEMBERS + 1 if members == 0xFFFF else members


def _png_digits(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Digits from a zip of PNGs whose folder (or name's first character) is the label."""
    members = _zip_members(path)
    if members > MAX_ZIP_MEMBERS:
        raise DigitFileError(f"{path.name}: {members:,} files in the zip; a collection's zip has at most "
                             f"{MAX_ZIP_MEMBERS:,}.")
    pixels, labels = [], []
    try:
        with zipfile.ZipFile(path) as z:
            infos = z.infolist()
            if len(infos) > MAX_ZIP_MEMBERS:
                raise DigitFileError(f"{path.name}: {len(infos):,} files in the zip; a collection's zip has at "
                                     f"most {MAX_ZIP_MEMBERS:,}.")
            entries = [e for e in infos if not e.is_dir() and e.filename.lower().endswith(".png")
                       and not Path(e.filename).name.startswith(".")]
            if not entries:
                raise DigitFileError(f"{path.name}: a zip without PNG pictures in it.")
            if len(entries) > CAP:
                raise DigitFileError(f"{path.name}: {len(entries):,} pictures, more than a collection's "
                                     f"{CAP:,}.")
            total = sum(e.file_size for e in entries)
            if total > MAX_ZIP_BYTES:
                raise DigitFileError(f"{path.name}: its pictures unpack to {total:,} bytes, more than "
                                     f"{CAP:,} digits need ({MAX_ZIP_BYTES:,} at most).")
            for entry in entries:
                parts = Path(entry.filename).parts
                label = parts[-2] if len(parts) > 1 else Path(entry.filename).name[:1]
                if not re.fullmatch(r"[0-9]", label):
                    raise DigitFileError(f"{path.name}: {entry.filename} is not in a folder named by its "
                                         "digit (0 to 9).")
                if entry.file_size > MAX_PNG_BYTES:
                    raise DigitFileError(f"{path.name}: {entry.filename} is too large for a 28x28 digit.")
                with z.open(entry) as member:
                    raw = member.read(MAX_PNG_BYTES + 1)  # bounded whatever the zip's directory says
                if len(raw) > MAX_PNG_BYTES:
                    raise DigitFileError(f"{path.name}: {entry.filename} is too large for a 28x28 digit.")
                try:
                    img = open_image(raw, size=(IMAGE_SIDE, IMAGE_SIDE))
                except ImageInputError as e:
                    raise DigitFileError(f"{path.name}: {entry.filename}: {e}") from None
                pixels.append(np.asarray(img.convert("L"), np.uint8).reshape(PIXELS))
                labels.append(int(label))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, OSError, EOFError, zlib.error,
            ValueError) as e:
        if isinstance(e, DigitFileError):
            raise
        raise DigitFileError(f"{path.name}: a damaged zip or picture ({type(e).__name__}).") from None
    return np.stack(pixels), np.array(labels, np.uint8)


def read_digit_files(paths) -> tuple[np.ndarray, np.ndarray]:
    """Digits from any number of files: IDX image/label pairs (``.gz`` or not; a pair's names match
    but for 'images-idx3' / 'labels-idx1', or it is the only pair) and zips of PNGs. Returns
    ((N, 784) uint8, (N,) uint8), or raises DigitFileError for the first bad file. No more than
    CAP digits in all: the headers are added up before anything is decompressed."""
    paths = [Path(p) for p in paths]
    if len(paths) > MAX_FILES:
        raise DigitFileError(f"{len(paths):,} files at once; import at most {MAX_FILES} (a collection is "
                             f"at most {CAP:,} digits).")
    images, labels, zips = {}, {}, []
    for path in paths:
        try:
            with open(path, "rb") as f:
                head = f.read(4)
        except OSError as e:
            raise DigitFileError(f"{path.name}: cannot read it ({e.strerror or 'unreadable'}).") from None
        if head == b"PK\x03\x04" or head == b"PK\x05\x06":
            zips.append(path)
            continue
        gz = head[:2] == b"\x1f\x8b"
        magic, count = _idx_header(path, gz)
        (images if magic == IMAGES_MAGIC else labels)[_pair_key(path.name)] = (path, gz, count)
    if len(images) == len(labels) == 1:  # one pair, whatever the files are called
        images, labels = {"": next(iter(images.values()))}, {"": next(iter(labels.values()))}
    for key in images.keys() | labels.keys():
        if key not in labels:
            raise DigitFileError(f"{images[key][0].name}: its labels file (…labels-idx1-ubyte.gz) is missing.")
        if key not in images:
            raise DigitFileError(f"{labels[key][0].name}: its images file (…images-idx3-ubyte.gz) is missing.")
        (image_path, _, n_images), (label_path, _, n_labels) = images[key], labels[key]
        if n_images != n_labels:
            raise DigitFileError(f"{image_path.name} holds {n_images:,} pictures but {label_path.name} "
                                 f"{n_labels:,} labels.")
    total = sum(count for _, _, count in images.values())
    if total > CAP:
        raise DigitFileError(f"These files hold {total:,} digits together, more than a collection's {CAP:,}; "
                             "nothing was unpacked.")
    parts = []
    for key in sorted(images, key=lambda k: images[k][0].name):
        x = _read_idx(*images[key][:2], IMAGES_MAGIC, images[key][2])
        y = _read_idx(*labels[key][:2], LABELS_MAGIC, labels[key][2])
        if len(y) and y.max() > 9:
            raise DigitFileError(f"{labels[key][0].name}: label {y.max()} is not a digit (0 to 9).")
        parts.append((x, y))
    for path in zips:
        parts.append(_png_digits(path))
        total += len(parts[-1][1])
        if total > CAP:
            raise DigitFileError(f"These files hold more than a collection's {CAP:,} digits together.")
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
