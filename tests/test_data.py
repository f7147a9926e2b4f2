import gzip
import os
import shutil
import urllib.error
from pathlib import Path

import numpy as np
import pytest

from mnist_demo import data as data_mod
from mnist_demo.data import IDX_FILES, DataError, load_idx_folder, load_mnist, read_idx
from mnist_demo.settings import from_env, from_process

# Class counts from the MNIST README: training set, then test set.
TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def test_split_shapes_and_dtypes(mnist):
    assert mnist.x_train.shape == (50_000, 784) and mnist.x_train.dtype == np.float32
    assert mnist.x_valid.shape == (20_000, 784) and mnist.x_valid.dtype == np.float32
    assert mnist.y_train.shape == (50_000,) and mnist.y_train.dtype == np.int64
    assert mnist.y_valid.shape == (20_000,) and mnist.y_valid.dtype == np.int64


def test_scaling_is_the_tutorials_div_256(mnist):
    assert mnist.x_train.min() == 0.0
    assert mnist.x_train.max() == np.float32(255 / 256)
    # every value is an integer count of 1/256ths
    sample = mnist.x_valid[:100] * 256
    assert np.array_equal(sample, np.round(sample))


def test_openml_order_train_then_test(mnist):
    labels = np.concatenate([mnist.y_train, mnist.y_valid])
    assert labels[0] == 5  # first training digit
    assert labels[60_000] == 7  # first test digit
    assert np.bincount(labels[:60_000]).tolist() == TRAIN_COUNTS
    assert np.bincount(labels[60_000:]).tolist() == TEST_COUNTS


def test_loaded_once_and_read_only(mnist):
    source = from_process().mnist
    assert source.load() is mnist and load_mnist(source.folder, cache_dir=source.cache_dir) is mnist
    with pytest.raises(ValueError):
        mnist.x_train[0, 0] = 1.0


@pytest.mark.slow  # the quick loop skips it: trains or builds for seconds
def test_openml_path_gives_the_same_arrays(mnist, monkeypatch):
    """fetch_openml returns float64 pixels 0..255 and string labels; both paths must agree."""
    pixels = np.concatenate([mnist.x_train, mnist.x_valid]).astype(np.float64) * 256
    labels = np.concatenate([mnist.y_train, mnist.y_valid]).astype(str).astype(object)
    calls = []

    def fake_fetch(name, **kw):
        calls.append((name, kw))
        return pixels, labels

    import sklearn.datasets
    monkeypatch.setattr(sklearn.datasets, "fetch_openml", fake_fetch)
    got = data_mod.load_openml(data_home="/tmp/x")
    assert calls == [("mnist_784", {"return_X_y": True, "as_frame": False, "data_home": "/tmp/x"})]
    for a, b in zip((got.x_train, got.y_train, got.x_valid, got.y_valid),
                    (mnist.x_train, mnist.y_train, mnist.x_valid, mnist.y_valid), strict=True):
        assert a.dtype == b.dtype and np.array_equal(a, b)


def test_offline_without_local_data_says_what_to_do(monkeypatch):
    def offline(*a, **kw):
        raise urllib.error.URLError("no network")

    import sklearn.datasets
    monkeypatch.setattr(sklearn.datasets, "fetch_openml", offline)
    with pytest.raises(DataError, match="MNIST_DIR") as e:
        data_mod.load_openml()
    assert "--data-dir" not in str(e.value)  # only the trainer has one: each program says its own way


def test_offline_advice_is_right_for_the_program_that_gives_it(monkeypatch, capsys):
    """The app takes no --data-dir (app.py refuses it): it says MNIST_DIR, as the app is started;
    the trainer's command line says its --data-dir."""
    import gradio as gr

    from mnist_demo.train import main

    def offline(*a, **kw):
        raise urllib.error.URLError("no network")

    import sklearn.datasets
    monkeypatch.setattr(sklearn.datasets, "fetch_openml", offline)
    monkeypatch.delenv("MNIST_DIR", raising=False)
    with pytest.raises(gr.Error) as e:
        from_env({}).mnist.for_app()
    assert "MNIST_DIR=/path/to/folder python app.py" in e.value.message and "--data-dir" not in e.value.message
    assert main(["--model", "linear", "--dry-run"]) == 1
    said = capsys.readouterr().err
    assert "pass --data-dir /path/to/folder" in said and "point the trainer at" in said


def test_an_app_event_without_data_shows_the_whole_advice(monkeypatch):
    """Gradio shows an error's message as HTML: an offline reason, "<urlopen error …>", would be
    taken for a tag and hide everything after it, the advice included."""
    import gradio as gr

    def offline(*a, **kw):
        raise DataError("Could not download MNIST from OpenML (URLError: <urlopen error [Errno -3]>). "
                        "Set MNIST_DIR=/path/to/folder.")

    monkeypatch.setattr(data_mod, "load_mnist", offline)
    with pytest.raises(gr.Error) as e:
        data_mod.MnistSource("/nowhere").for_app()
    message = e.value.message
    assert "&lt;urlopen error [Errno -3]&gt;" in message and message.endswith("MNIST_DIR=/path/to/folder.")


def test_the_folder_comes_from_the_settings_not_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("MNIST_DIR", str(tmp_path))
    assert data_mod.resolve_data_dir() is None  # data.py never reads MNIST_DIR itself: Settings does
    assert data_mod.resolve_data_dir("/elsewhere") == "/elsewhere"
    source = from_env({"MNIST_DIR": str(tmp_path), "MNIST_DATA_DIR": "/own"}).mnist
    assert source == data_mod.MnistSource(str(tmp_path), Path("/own"))
    assert from_env({}).mnist == data_mod.MnistSource(None, data_mod.DEFAULT_DATA_DIR)  # None: OpenML


# ---------------------------------------------------------------- broken folders


@pytest.fixture(scope="module")
def idx_plain(tmp_path_factory):
    """The real folder, uncompressed once for the module (also checks that plain files load)."""
    folder, src = tmp_path_factory.mktemp("idx-plain"), os.environ["MNIST_DIR"]
    for stem in IDX_FILES.values():
        with gzip.open(f"{src}/{stem}.gz", "rb") as f, open(folder / stem, "wb") as g:
            shutil.copyfileobj(f, g)
    return folder


@pytest.fixture
def idx_copy(idx_plain, tmp_path):
    """A folder of links to the plain files: a test damages one by replacing its link (replace())."""
    for stem in IDX_FILES.values():
        (tmp_path / stem).symlink_to(idx_plain / stem)
    return tmp_path


def replace(path, data: bytes) -> None:
    """Write ``data`` in place of the link at ``path`` (never through it into the shared file)."""
    path.unlink()
    path.write_bytes(data)


def test_uncompressed_folder_loads_identically(idx_copy, mnist):
    got = load_idx_folder(idx_copy)
    assert np.array_equal(got.x_valid, mnist.x_valid) and np.array_equal(got.y_train, mnist.y_train)


def test_missing_file(idx_copy):
    (idx_copy / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(DataError, match="missing t10k-labels-idx1-ubyte"):
        load_idx_folder(idx_copy)


def test_missing_folder(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        load_idx_folder(tmp_path / "nope")


def test_wrong_magic(idx_copy):
    # labels where images should be
    replace(idx_copy / "train-images-idx3-ubyte", (idx_copy / "train-labels-idx1-ubyte").read_bytes())
    with pytest.raises(DataError, match=r"train-images-idx3-ubyte: wrong magic number 2049"):
        load_idx_folder(idx_copy)


def test_truncated_file(idx_copy):
    path = idx_copy / "t10k-images-idx3-ubyte"
    replace(path, path.read_bytes()[:-100])
    with pytest.raises(DataError, match="t10k-images-idx3-ubyte: truncated"):
        load_idx_folder(idx_copy)


def test_truncated_gzip(tmp_path):
    path = tmp_path / "x.gz"
    path.write_bytes(gzip.compress(b"\x00\x00\x08\x01" + os.urandom(5000))[:3000])
    with pytest.raises(DataError, match="x.gz: cannot read"):
        read_idx(path, 2049)


def test_count_mismatch(idx_copy):
    path = idx_copy / "t10k-labels-idx1-ubyte"
    raw = path.read_bytes()
    header = raw[:4] + (9_999).to_bytes(4, "big")
    replace(path, header + raw[8:-1])
    with pytest.raises(DataError, match="10000 test images but 9999 labels"):
        load_idx_folder(idx_copy)


# ---------------------------------------------------------------- the decoded cache


def gunzipped(folder) -> dict:
    return {key: read_idx(folder / f"{stem}.gz", data_mod.IMAGES_MAGIC if key.endswith("images") else
                          data_mod.LABELS_MAGIC) for key, stem in IDX_FILES.items()}


def tiny_folder(folder, value: int, mtime: int):
    """Four small IDX .gz files filled with ``value``, all modified at ``mtime``."""
    folder.mkdir(exist_ok=True)
    for key, stem in IDX_FILES.items():
        shape = (3, 28, 28) if key.endswith("images") else (3,)
        path = folder / f"{stem}.gz"
        path.write_bytes(gzip.compress(data_mod.idx_bytes(np.full(shape, value, np.uint8)), mtime=0))
        os.utime(path, ns=(mtime, mtime))
    return folder


def test_the_cache_holds_the_gunzipped_bytes_and_later_runs_skip_the_gunzip(tmp_path, monkeypatch, mnist):
    from pathlib import Path
    folder, cache = Path(os.environ["MNIST_DIR"]), tmp_path / "data" / data_mod.CACHE_NAME
    listing = sorted(os.listdir(folder))
    data_mod.idx_arrays(folder, cache)  # the first run: gunzip, then keep
    assert cache.is_file()
    expected = gunzipped(folder)
    monkeypatch.setattr(data_mod, "read_idx", lambda *a: pytest.fail("gunzipped again"))
    cached = data_mod.idx_arrays(folder, cache)
    for key, array in expected.items():
        assert (cached[key].dtype, cached[key].shape) == (np.uint8, array.shape)
        assert cached[key].tobytes() == array.tobytes()
    again = load_idx_folder(folder, cache)
    assert again.x_train.tobytes() == mnist.x_train.tobytes() and again.y_valid.tobytes() == mnist.y_valid.tobytes()
    assert sorted(os.listdir(folder)) == listing  # nothing written beside the IDX files


def test_load_mnist_keeps_its_cache_in_the_apps_data_folder(tmp_path):
    folder = tiny_folder(tmp_path / "idx", 1, 10**18)
    source = from_env({"MNIST_DIR": str(folder), "MNIST_DATA_DIR": str(tmp_path / "own")}).mnist
    with pytest.raises(DataError, match="expected 70000"):  # a folder this small is refused after reading...
        data_mod._load_cached.__wrapped__(source.folder, None, str(source.cache_dir))
    assert (tmp_path / "own" / data_mod.CACHE_NAME).is_file()  # ...but its bytes were kept there


def test_a_stale_cache_is_ignored_and_rebuilt(tmp_path):
    cache = tmp_path / "cache.npz"
    folder = tiny_folder(tmp_path / "idx", 1, 10**18)
    assert data_mod.idx_arrays(folder, cache)["train_labels"].tolist() == [1, 1, 1]
    tiny_folder(folder, 2, 10**18 + 1)  # same sizes, new bytes, a newer modification time
    assert data_mod.idx_arrays(folder, cache)["train_labels"].tolist() == [2, 2, 2]
    paths = {key: folder / f"{stem}.gz" for key, stem in IDX_FILES.items()}
    assert data_mod.read_cache(cache, data_mod.source_stamp(paths))["test_images"].max() == 2  # rebuilt


@pytest.mark.parametrize("damage", ["garbage", "empty", "truncated", "flipped", "wrong dtype"])
def test_a_corrupt_cache_is_ignored_and_rebuilt(tmp_path, damage):
    cache = tmp_path / "cache.npz"
    folder = tiny_folder(tmp_path / "idx", 7, 10**18)
    stamp = data_mod.source_stamp({key: folder / f"{stem}.gz" for key, stem in IDX_FILES.items()})
    data_mod.idx_arrays(folder, cache)
    raw = cache.read_bytes()
    if damage == "wrong dtype":  # a matching stamp, but not the IDX files' bytes
        np.savez(cache, stamp=np.array(stamp),
                 **{key: np.zeros(3, np.float32) for key in IDX_FILES})
    else:
        middle = len(raw) // 2
        cache.write_bytes({"garbage": b"not a zip at all", "empty": b"", "truncated": raw[:middle],
                           "flipped": raw[:middle] + bytes([raw[middle] ^ 0xFF]) + raw[middle + 1:]}[damage])
    arrays = data_mod.idx_arrays(folder, cache)
    assert arrays["train_images"].shape == (3, 28, 28) and set(arrays["train_images"].ravel()) == {7}
    assert data_mod.read_cache(cache, stamp)["train_images"].max() == 7  # rewritten from the IDX files


def test_a_cache_that_cannot_be_written_costs_nothing_but_time(tmp_path):
    (tmp_path / "a-file").write_text("not a folder")
    folder = tiny_folder(tmp_path / "idx", 3, 10**18)
    arrays = data_mod.idx_arrays(folder, tmp_path / "a-file" / data_mod.CACHE_NAME)
    assert arrays["test_labels"].tolist() == [3, 3, 3]
