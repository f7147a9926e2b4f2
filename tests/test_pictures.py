"""pictures.open_image: every picture is checked from its header before it is decoded; the
sentences say what is wrong; big JPEGs are decoded at a reduced scale as before."""

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from mnist_demo.pictures import MAX_FRAMES, MAX_PIXELS, open_image
from mnist_demo.preprocess import RECIPE, ImageInputError


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def bomb_png(width: int, height: int, color_type: int = 6) -> bytes:
    """A valid PNG that declares width x height (RGBA by default), every row zero: tiny on disk,
    huge when decoded. Made in milliseconds, never held whole: after a full flush a deflate block
    refers to nothing before it, so 64 zero rows compress to the same bytes every time, and the
    stream is that block repeated; the Adler-32 of n zero bytes is (n mod 65521) << 16 | 1."""
    channels = {0: 1, 2: 3, 6: 4}[color_type]
    row = 1 + width * channels  # filter byte 0, then zeros
    rows = min(64, height)
    z = zlib.compressobj(9, zlib.DEFLATED, -15)  # raw deflate; the zlib header and checksum are added below
    block = z.compress(bytes(row * rows)) + z.flush(zlib.Z_FULL_FLUSH)
    repeats, rest = divmod(height, rows)
    last = z.compress(bytes(row * rest)) + z.flush()
    adler = ((row * height) % 65521) << 16 | 1
    idat = b"\x78\xda" + block * repeats + last + struct.pack(">I", adler)
    ihdr = struct.pack(">IIBBBBB", width, height, 8, color_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")


@pytest.fixture(scope="module")
def bomb() -> bytes:
    return bomb_png(13000, 13000)


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_the_bomb_is_small_and_declares_13000_by_13000(bomb):
    assert len(bomb) < 1_000_000
    with Image.open(io.BytesIO(bomb)) as img:
        assert img.size == (13000, 13000) and img.mode == "RGBA"


@pytest.mark.parametrize("width, height, color_type", [(5, 7, 6), (300, 130, 0), (64, 64, 2), (1000, 129, 6)])
def test_a_bomb_decodes_to_the_zeros_it_declares(width, height, color_type):
    with Image.open(io.BytesIO(bomb_png(width, height, color_type))) as img:
        pixels = np.asarray(img)
    assert pixels.shape[:2] == (height, width) and not pixels.any()


def test_a_small_file_declaring_a_huge_picture_gets_a_sentence_before_decoding(bomb, tmp_path):
    (tmp_path / "bomb.png").write_bytes(bomb)
    for source in (bomb, str(tmp_path / "bomb.png"), tmp_path / "bomb.png"):
        with pytest.raises(ImageInputError, match=r"The picture is 13,000×13,000 pixels; the most this app reads "
                                                  r"is 16 megapixels \(4,000×4,000\)\."):
            open_image(source)


def test_just_over_the_budget_is_refused_and_a_phone_photo_is_read():
    with pytest.raises(ImageInputError, match="4,001×4,000"):
        open_image(bomb_png(4001, 4000, color_type=0))
    assert MAX_PIXELS == 4000 * 4000
    img = open_image(bomb_png(4000, 3000, color_type=0))
    assert img.size == (4000, 3000)


def test_a_big_jpeg_is_decoded_at_a_reduced_scale(tmp_path):
    big = Image.new("RGB", (6000, 6000), "white")
    big.paste((0, 0, 0), (2000, 1000, 4000, 5000))
    big.save(tmp_path / "big.jpg", quality=80)
    img = open_image(tmp_path / "big.jpg")  # 36 megapixels declared, 1/4 scale decoded: within the budget
    assert max(img.size) < 6000 and min(img.size) >= RECIPE["max_side"]


def test_animations_give_their_first_frame_and_too_many_frames_a_sentence(tmp_path):
    frames = [Image.new("L", (8, 8), v) for v in (10, 200, 30)]
    frames[0].save(tmp_path / "a.gif", save_all=True, append_images=frames[1:])
    img = open_image(tmp_path / "a.gif")
    assert np.asarray(img.convert("L"))[0, 0] == 10 and getattr(img, "n_frames", 1) == 1
    many = [Image.new("L", (2, 2), v % 256) for v in range(MAX_FRAMES + 1)]
    many[0].save(tmp_path / "many.gif", save_all=True, append_images=many[1:], optimize=False)
    with pytest.raises(ImageInputError, match=f"{MAX_FRAMES + 1:,} frames"):
        open_image(tmp_path / "many.gif")


@pytest.mark.parametrize("data, message", [
    (b"", "empty"),
    (b"this is not an image", "Could not read the file as an image"),
    (bomb_png(40, 40)[:60], "damaged or truncated"),
    (b"x" * (10 * 1024 * 1024 + 1), "larger than 10 MB"),
], ids=["empty", "text", "truncated", "over 10 MB"])
def test_odd_files_get_a_sentence(data, message):
    with pytest.raises(ImageInputError, match=message):
        open_image(data)


def test_a_missing_file_gets_a_sentence(tmp_path):
    with pytest.raises(ImageInputError, match="Could not read the file"):
        open_image(tmp_path / "absent.png")


def test_a_required_size_is_checked_from_the_header(bomb):
    with pytest.raises(ImageInputError, match="The picture is 13,000×13,000 pixels, not 28×28."):
        open_image(bomb, size=(28, 28))
    assert open_image(bomb_png(28, 28), size=(28, 28)).size == (28, 28)
