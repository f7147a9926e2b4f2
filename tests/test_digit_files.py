"""Collections as files: the IDX pair that mnist_demo.data reads like MNIST itself, the zip of
PNGs, and every bad file getting a sentence and no digits."""

import gzip
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mnist_demo.collection import CAP, Collection, Digits
from mnist_demo.data import IMAGES_MAGIC, LABELS_MAGIC, idx_bytes, read_idx
from mnist_demo.digit_files import (
    DigitFileError,
    load_extra_digits,
    read_digit_files,
    write_idx_pair,
    write_png_zip,
)


@pytest.fixture
def digits(mnist) -> Digits:
    pixels = np.rint(mnist.x_valid[:30] * 256).astype(np.uint8)
    return Digits(pixels, mnist.y_valid[:30].astype(np.uint8), np.arange(100, 130))


def test_the_idx_pair_is_read_by_mnist_demo_data_as_mnist_itself(digits, tmp_path):
    images, labels = write_idx_pair(digits, tmp_path, "mine")
    assert images.name == "mine-images-idx3-ubyte.gz" and labels.name == "mine-labels-idx1-ubyte.gz"
    x = read_idx(images, IMAGES_MAGIC)
    y = read_idx(labels, LABELS_MAGIC)
    assert x.shape == (30, 28, 28)
    np.testing.assert_array_equal(x.reshape(30, 784), digits.pixels)
    np.testing.assert_array_equal(y, digits.labels)
    again = write_idx_pair(digits, tmp_path.parent, "mine")  # same digits, same bytes
    assert again[0].read_bytes() == images.read_bytes()


def test_both_formats_round_trip_exactly(digits, tmp_path):
    write_idx_pair(digits, tmp_path, "a")
    zipped = write_png_zip(digits, tmp_path / "a.zip")
    with zipfile.ZipFile(zipped) as z:
        assert f"{digits.labels[0]}/{digits.labels[0]}-0100.png" in z.namelist()
    expected = sorted(zip(map(bytes, digits.pixels), digits.labels.tolist(), strict=True))
    for files in ([tmp_path / "a-images-idx3-ubyte.gz", tmp_path / "a-labels-idx1-ubyte.gz"], [zipped]):
        pixels, labels = read_digit_files(files)
        assert sorted(zip(map(bytes, pixels), labels.tolist(), strict=True)) == expected


def test_a_class_of_files_merges_pair_by_pair(digits, tmp_path):
    a, b = digits.part(np.arange(30) < 10), digits.part(np.arange(30) >= 10)
    write_idx_pair(a, tmp_path, "ann")
    write_idx_pair(b, tmp_path, "bob")
    # as a browser saves a second download of the same name
    (tmp_path / "ann-images-idx3-ubyte (1).gz").write_bytes((tmp_path / "bob-images-idx3-ubyte.gz").read_bytes())
    (tmp_path / "ann-labels-idx1-ubyte (1).gz").write_bytes((tmp_path / "bob-labels-idx1-ubyte.gz").read_bytes())
    pixels, labels = read_digit_files(sorted(tmp_path.glob("*.gz")))
    assert len(labels) == 10 + 20 + 20
    c = Collection()
    c.add_many(pixels, labels)
    assert len(c) == 50


def test_uncompressed_idx_files_are_read_too(digits, tmp_path):
    (tmp_path / "x-images-idx3-ubyte").write_bytes(idx_bytes(digits.pixels.reshape(-1, 28, 28)))
    (tmp_path / "x-labels-idx1-ubyte").write_bytes(idx_bytes(digits.labels))
    pixels, labels = read_digit_files(sorted(tmp_path.iterdir()))
    np.testing.assert_array_equal(pixels, digits.pixels)


def bad_files(tmp_path: Path, digits: Digits) -> dict:
    """Each bad case: (the files, what the message must say)."""
    x = digits.pixels.reshape(-1, 28, 28)
    good_labels = gzip.compress(idx_bytes(digits.labels))

    def pair(name, images: bytes, labels: bytes = good_labels):
        (tmp_path / f"{name}-images-idx3-ubyte.gz").write_bytes(images)
        (tmp_path / f"{name}-labels-idx1-ubyte.gz").write_bytes(labels)
        return [tmp_path / f"{name}-images-idx3-ubyte.gz", tmp_path / f"{name}-labels-idx1-ubyte.gz"]

    wrong_magic = bytearray(idx_bytes(x))
    wrong_magic[2] = 0x0B
    zip_big = tmp_path / "big.zip"
    with zipfile.ZipFile(zip_big, "w") as z:
        Image.new("L", (64, 64)).save(tmp_path / "big.png")
        z.write(tmp_path / "big.png", "3/big.png")
    zip_unlabelled = tmp_path / "unlabelled.zip"
    with zipfile.ZipFile(zip_unlabelled, "w") as z:
        z.writestr("digits/a.png", (tmp_path / "big.png").read_bytes())
    notes = tmp_path / "notes.txt"
    notes.write_text("hello")
    bomb = tmp_path / "bomb-images-idx3-ubyte.gz"
    bomb.write_bytes(gzip.compress(idx_bytes(np.zeros((CAP + 5, 28, 28), np.uint8))))
    return {
        "wrong magic": (pair("m", gzip.compress(bytes(wrong_magic))), "not an MNIST IDX file"),
        "truncated": (pair("t", gzip.compress(idx_bytes(x))[:-20]), "damaged or truncated"),
        "short data": (pair("s", gzip.compress(idx_bytes(x)[:-100])), "truncated or padded"),
        "count mismatch": (pair("c", gzip.compress(idx_bytes(x[:-1]))), "29 pictures but"),
        "label out of range": (pair("l", gzip.compress(idx_bytes(x)), gzip.compress(idx_bytes(
            np.full(30, 12, np.uint8)))), "label 12 is not a digit"),
        "not 28x28": (pair("n", gzip.compress(idx_bytes(np.zeros((30, 20, 20), np.uint8)))), "not 28x28"),
        "png not 28x28": ([zip_big], "64×64 pixels, not 28×28"),
        "png without a digit folder": ([zip_unlabelled], "not in a folder named by its digit"),
        "not an idx at all": ([notes], "not an MNIST IDX file"),
        "too large": ([bomb], "declares 2,005 digits, more than a collection's 2,000"),
    }


@pytest.mark.parametrize("case", ["wrong magic", "truncated", "short data", "count mismatch", "label out of range",
                                  "not 28x28", "png not 28x28", "png without a digit folder", "not an idx at all",
                                  "too large"])
def test_bad_files_get_a_sentence_naming_the_file(case, digits, tmp_path):
    files, message = bad_files(tmp_path, digits)[case]
    with pytest.raises(DigitFileError, match=message) as e:
        read_digit_files(files)
    assert any(f.name in str(e.value) for f in files)


def test_a_lone_images_file_is_refused_without_its_labels(digits, tmp_path):
    write_idx_pair(digits, tmp_path, "a")
    (tmp_path / "a-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DigitFileError, match="a-images-idx3-ubyte.gz: its labels file"):
        read_digit_files([tmp_path / "a-images-idx3-ubyte.gz"])


def test_over_the_cap_changes_nothing(digits, tmp_path):
    c = Collection(cap=40)
    c.add_many(digits.pixels, digits.labels)
    pixels, labels = read_digit_files(write_idx_pair(digits, tmp_path, "more"))
    with pytest.raises(ValueError, match="at most 40"):
        c.add_many(pixels, labels)
    assert len(c) == 30


def test_the_command_line_finds_a_files_partner(digits, tmp_path):
    images, labels = write_idx_pair(digits, tmp_path, "mine")
    for given in (images, labels):
        loaded = load_extra_digits([given])
        np.testing.assert_array_equal(loaded.pixels, digits.pixels)
    with pytest.raises(DigitFileError, match="no such file"):
        load_extra_digits([tmp_path / "missing.gz"])


def idx_header(magic: int, *dims: int) -> bytes:
    return struct.pack(">I", magic) + b"".join(struct.pack(">I", d) for d in dims)


def test_dimensions_that_wrap_around_get_a_sentence(tmp_path):
    """2**22 x 2**21 x 2**21 is 2**64: as int64 it wraps to 0, so no data "matches" the header."""
    (tmp_path / "w-images-idx3-ubyte.gz").write_bytes(gzip.compress(idx_header(IMAGES_MAGIC, 2**22, 2**21, 2**21)))
    (tmp_path / "w-labels-idx1-ubyte.gz").write_bytes(gzip.compress(idx_header(LABELS_MAGIC, 0)))
    with pytest.raises(DigitFileError, match="w-images-idx3-ubyte.gz: holds pictures of 2,097,152x2,097,152"):
        read_digit_files(sorted(tmp_path.iterdir()))
    (tmp_path / "w-images-idx3-ubyte.gz").write_bytes(gzip.compress(idx_header(IMAGES_MAGIC, 2**32 - 1, 28, 28)))
    with pytest.raises(DigitFileError, match="declares 4,294,967,295 digits"):
        read_digit_files(sorted(tmp_path.iterdir()))


def test_counts_that_disagree_are_read_from_the_headers(digits, tmp_path):
    images, labels = write_idx_pair(digits, tmp_path, "a")
    labels.write_bytes(gzip.compress(idx_header(LABELS_MAGIC, 1000) + bytes(1000)))
    with pytest.raises(DigitFileError, match="holds 30 pictures but a-labels-idx1-ubyte.gz 1,000 labels"):
        read_digit_files([images, labels])


def test_many_files_over_the_cap_are_refused_before_any_is_unpacked(tmp_path):
    """Each file is under the cap, together they are over it; the last one is damaged past its
    header, which only unpacking would find: the sentence is about the cap."""
    n, per = 6, CAP // 5
    for k in range(n):
        images = idx_header(IMAGES_MAGIC, per, 28, 28) + (bytes(per * 784) if k < n - 1 else b"")
        (tmp_path / f"{k}-images-idx3-ubyte.gz").write_bytes(gzip.compress(images))
        (tmp_path / f"{k}-labels-idx1-ubyte.gz").write_bytes(gzip.compress(idx_header(LABELS_MAGIC, per) + bytes(per)))
    with pytest.raises(DigitFileError, match=f"These files hold {n * per:,} digits together, more than a "
                                             f"collection's {CAP:,}; nothing was unpacked."):
        read_digit_files(sorted(tmp_path.iterdir()))


def test_a_gzip_is_unpacked_no_further_than_its_header_promises(tmp_path):
    """30 digits promised, a gigabyte of zeros behind them: a bounded read stops at 30 digits."""
    import zlib

    z = zlib.compressobj(9, zlib.DEFLATED, 31)  # gzip framing
    body = z.compress(idx_header(IMAGES_MAGIC, 30, 28, 28)) + b"".join(z.compress(bytes(2**20)) for _ in range(64))
    (tmp_path / "g-images-idx3-ubyte.gz").write_bytes(body + z.flush())
    (tmp_path / "g-labels-idx1-ubyte.gz").write_bytes(gzip.compress(idx_header(LABELS_MAGIC, 30) + bytes(30)))
    with pytest.raises(DigitFileError, match="truncated or padded file: its header promises 30 pictures"):
        read_digit_files(sorted(tmp_path.iterdir()))


def test_too_many_files_at_once(digits, tmp_path):
    from mnist_demo.digit_files import MAX_FILES

    files = [tmp_path / f"{k}.gz" for k in range(MAX_FILES + 1)]
    with pytest.raises(DigitFileError, match=f"{MAX_FILES + 1} files at once"):
        read_digit_files(files)


def test_zips_are_bounded_before_they_are_unpacked(tmp_path):
    from mnist_demo.digit_files import MAX_ZIP_BYTES, MAX_ZIP_MEMBERS

    many = tmp_path / "many.zip"
    with zipfile.ZipFile(many, "w") as z:
        for k in range(MAX_ZIP_MEMBERS + 1):
            z.writestr(f"{k % 10}/{k}.txt", b"")
    with pytest.raises(DigitFileError, match=f"many.zip: {MAX_ZIP_MEMBERS + 1:,} files in the zip"):
        read_digit_files([many])
    big = tmp_path / "big.zip"
    with zipfile.ZipFile(big, "w", zipfile.ZIP_DEFLATED) as z:
        for k in range(MAX_ZIP_BYTES // 60_000 + 1):
            z.writestr(f"{k % 10}/{k}.png", bytes(60_000))
    with pytest.raises(DigitFileError, match="big.zip: its pictures unpack to"):
        read_digit_files([big])


def test_a_png_declaring_a_huge_picture_is_refused_from_its_header(tmp_path):
    from tests.test_pictures import bomb_png

    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w") as z:
        z.writestr("3/a.png", bomb_png(4000, 4000, color_type=0))  # 16 MB decoded, 16 kB packed
    with pytest.raises(DigitFileError, match="bomb.zip: 3/a.png: The picture is 4,000×4,000 pixels, not 28×28."):
        read_digit_files([bomb])
