"""The picture the latency and load benchmarks send: an 800x800 transparent PNG of a '7' (and
the same '7' as a black-on-white JPEG photo). A module of its own because both benchmarks are run
with ``python -m``, and an entry point is never imported (tests/test_imports.py).
"""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image, ImageDraw


def seven(side: int = 800) -> Image.Image:
    """A '7' drawn with a 40 px round pen on a transparent side x side canvas (the ink in the alpha)."""
    img = Image.new("RGBA", (side, side), (0, 0, 0, 0))
    k = side / 800
    ImageDraw.Draw(img).line([(250 * k, 200 * k), (560 * k, 200 * k), (380 * k, 640 * k)], fill=(0, 0, 0, 255),
                             width=round(40 * k), joint="curve")
    return img


def picture_file(fmt: str = "PNG") -> bytes:
    """The '7' as the bytes of a picture file: a transparent PNG, or a black-on-white JPEG."""
    img = seven()
    if fmt == "JPEG":
        white = Image.new("RGB", img.size, (255, 255, 255))
        white.paste(img, mask=img.getchannel("A"))
        img = white
    buf = io.BytesIO()
    img.save(buf, fmt)
    return buf.getvalue()


def save_png(folder: Path) -> str:
    path = folder / "seven.png"
    path.write_bytes(picture_file("PNG"))
    return str(path)
