"""Every picture the app reads, on every path (``/classify``, the pad's ``read_digit``, zips of
digits), goes through ``open_image``: one place that refuses what would cost too much.

A small file can declare a huge picture (a 674 kB PNG declaring 13,000x13,000 RGBA decodes to
676 MB; Pillow only warns below its own bomb limit of ~179 megapixels). ``Image.open`` reads only
the header, so the size is checked there, before anything is decoded. JPEGs are decoded at a
reduced scale (DCT scaling: 1/2, 1/4 or 1/8) when they are far larger than the recipe needs, and
the budget applies to what is actually decoded. Animations give their first frame only.
"""

from __future__ import annotations

import io
import os
import struct
import threading
import warnings

import numpy as np
from PIL import Image, UnidentifiedImageError

from .memory import give_back_memory
from .preprocess import MAX_SIDE, ImageInputError, preprocess

MAX_PIXELS = 16_000_000  # 4,000x4,000: a phone photo; decoded as RGBA at most 64 MB
MAX_FRAMES = 1_000  # animations and multi-page files: only the first frame is used
MAX_FILE_BYTES = 10 * 1024 * 1024  # also the uploads' max_file_size (ui.LAUNCH_OPTIONS)
# One picture decoded and prepared at a time, whatever the route (the queue's /classify, or the
# pad's read_digit, which runs outside the queue): the largest costs ~190 MB while it is read, so
# eight at once would cost 1.5 GB. A small picture takes ~20 ms: the others wait that long.
PICTURE_SLOT = threading.BoundedSemaphore(1)


def _size(width: int, height: int) -> str:
    return f"{width:,}×{height:,} pixels"


def _too_large(width: int, height: int) -> ImageInputError:
    side = int(MAX_PIXELS ** 0.5)
    return ImageInputError(f"The picture is {_size(width, height)}; the most this app reads is "
                           f"{MAX_PIXELS / 1e6:g} megapixels ({side:,}×{side:,}).")


def _frames(img: Image.Image) -> int:
    """How many frames the file declares (APNG: its header; GIF/TIFF: a scan that decodes nothing)."""
    try:
        return int(getattr(img, "n_frames", 1))
    except (OSError, ValueError, EOFError, SyntaxError):
        return 1  # a damaged later frame does not matter: only the first one is read


def open_image(source: str | bytes | os.PathLike, size: tuple[int, int] | None = None) -> Image.Image:
    """A file path or the bytes of a picture as a loaded PIL image (its first frame if animated),
    or ImageInputError with a sentence. The pixel budget (and ``size``, the exact width and height
    the picture must have, when given) is checked from the header, before decoding."""
    try:
        if not isinstance(source, bytes | bytearray):
            with open(source, "rb") as f:  # read whole, so that the image holds no open file
                data = f.read(MAX_FILE_BYTES + 1)
        else:
            data = bytes(source)
    except OSError as e:
        raise ImageInputError(f"Could not read the file ({e.strerror or 'unreadable'}).") from None
    if len(data) > MAX_FILE_BYTES:
        raise ImageInputError(f"The file is larger than {MAX_FILE_BYTES // 2**20} MB; send a smaller picture.")
    if not data:
        raise ImageInputError("Could not read the file as an image: it is empty.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # our own budget applies below
            img = Image.open(io.BytesIO(data))
        width, height = img.size
        if width < 1 or height < 1:
            raise ImageInputError(f"The picture is {_size(width, height)}: there is nothing to read.")
        if size is not None and (width, height) != tuple(size):
            raise ImageInputError(f"The picture is {_size(width, height)}, not {size[0]}×{size[1]}.")
        if img.format == "JPEG":  # decoded at 1/2, 1/4 or 1/8 scale: big photos cost little
            img.draft(img.mode, (MAX_SIDE, MAX_SIDE))
        if img.size[0] * img.size[1] > MAX_PIXELS:
            raise _too_large(width, height)
        frames = _frames(img)
        if frames > MAX_FRAMES:
            raise ImageInputError(f"The picture has {frames:,} frames; the most this app reads is "
                                  f"{MAX_FRAMES:,} (and it uses only the first).")
        if frames > 1:
            img.seek(0)
        img.load()
        if img.size[0] * img.size[1] > MAX_PIXELS:  # a frame that grew the canvas while loading
            raise _too_large(*img.size)
        return img.copy() if frames > 1 else img  # a copy holds the first frame alone
    except ImageInputError:
        raise
    except Image.DecompressionBombError:
        raise ImageInputError(f"The picture declares far more than the {MAX_PIXELS / 1e6:g} megapixels this "
                              "app reads.") from None
    except UnidentifiedImageError:
        raise ImageInputError("Could not read the file as an image: it is not a picture in a format this app "
                              "knows (PNG, JPEG, GIF, WebP, BMP...).") from None
    except (OSError, ValueError, EOFError, SyntaxError, IndexError, struct.error, MemoryError):
        raise ImageInputError("Could not read the file as an image: it is damaged or truncated.") from None


def digit_from_picture(source: str | bytes | os.PathLike) -> np.ndarray | None:
    """A picture (a path or its bytes) as the models' 28x28 digit, None when it looks blank; one
    picture at a time in the whole process (PICTURE_SLOT)."""
    with PICTURE_SLOT:
        try:
            return preprocess(open_image(source))
        finally:  # before the next picture: freed memory otherwise stays in this thread's arena
            give_back_memory()
