import json
import pickle
import struct

import pytest
import torch
from safetensors.torch import save as st_save

from mnist_demo.models import build_model
from mnist_demo.weights import (
    MAX_BYTES,
    WeightsError,
    load_weights,
    save_weights,
    weights_from_bytes,
    weights_to_bytes,
)


def cnn():
    torch.manual_seed(0)
    return build_model("cnn")


def test_round_trip_keeps_outputs_and_metadata(tmp_path):
    model = cnn()
    save_weights(model, tmp_path / "m.safetensors", {"valid_acc": "0.5", "preset": "x"})
    loaded, meta = load_weights(tmp_path / "m.safetensors", expect="cnn")
    x = torch.rand(3, 784)
    assert torch.equal(loaded(x), model.eval()(x))
    assert meta["model"] == "cnn" and meta["final_relu"] == "true"
    assert meta["valid_acc"] == "0.5" and meta["torch"] == torch.__version__ and meta["created"]
    assert not loaded.training


def test_final_relu_is_restored(tmp_path):
    from mnist_demo.models import CNN
    save_weights(CNN(final_relu=False), tmp_path / "m.safetensors")
    assert load_weights(tmp_path / "m.safetensors")[0].final_relu is False


def test_no_temporary_files_left(tmp_path):
    save_weights(cnn(), tmp_path / "m.safetensors")
    save_weights(cnn(), tmp_path / "m.safetensors")
    assert [p.name for p in tmp_path.iterdir()] == ["m.safetensors"]


def test_failed_save_keeps_previous_file(tmp_path, monkeypatch):
    path = tmp_path / "m.safetensors"
    save_weights(build_model("linear"), path)
    before = path.read_bytes()

    def crash(*a):
        raise OSError("disk full")
    monkeypatch.setattr("os.replace", crash)
    with pytest.raises(OSError):
        save_weights(build_model("linear"), path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.safetensors"]


def tampered(mutate, model_name="cnn", metadata=None):
    tensors = {k: v.clone() for k, v in build_model(model_name).state_dict().items()}
    mutate(tensors)
    return st_save(tensors, metadata=metadata or {"model": model_name})


@pytest.mark.parametrize("mutate, message", [
    (lambda t: t.pop("conv3.bias"), r"missing \['conv3.bias'\]"),
    (lambda t: t.update(extra=torch.zeros(1)), r"unexpected \['extra'\]"),
    (lambda t: t.update({"conv1.weight": torch.zeros(16, 1, 5, 5)}), "conv1.weight has shape"),
    (lambda t: t.update({"conv2.bias": torch.zeros(16, dtype=torch.float64)}), "torch.float64"),
    (lambda t: t["conv2.weight"].view(-1).__setitem__(3, float("nan")), "NaN or infinite"),
    (lambda t: t["conv3.bias"].__setitem__(0, float("inf")), "NaN or infinite"),
])
def test_tampered_tensors_are_refused(mutate, message):
    with pytest.raises(WeightsError, match=message):
        weights_from_bytes(tampered(mutate))


def test_linear_tensors_under_cnn_name_refused():
    blob = tampered(lambda t: None, model_name="linear", metadata={"model": "cnn"})
    with pytest.raises(WeightsError, match="wrong keys for the cnn model"):
        weights_from_bytes(blob)


@pytest.mark.parametrize("blob, message", [
    (b"", "too short"),
    (b"hello world, not weights", "header claims"),
    (struct.pack("<Q", 5) + b"{nope", "not valid JSON"),
    (struct.pack("<Q", 2) + b"{}", "metadata 'model' is None"),
    (pickle.dumps({"lin.weight": [1, 2, 3]}), "header claims|not valid JSON|model"),
    (b"x" * (MAX_BYTES + 1), "under"),
])
def test_garbage_is_refused(blob, message):
    with pytest.raises(WeightsError, match=message):
        weights_from_bytes(blob)


def test_truncated_file_refused():
    blob = weights_to_bytes(build_model("linear"))
    with pytest.raises(WeightsError, match="not a valid safetensors file"):
        weights_from_bytes(blob[:-100])


def test_header_lying_about_offsets_refused():
    blob = bytearray(weights_to_bytes(build_model("linear")))
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n])
    header["lin.bias"]["data_offsets"] = [0, 40]  # overlaps lin.weight
    raw = json.dumps(header).encode().ljust(n)
    with pytest.raises(WeightsError):
        weights_from_bytes(bytes(blob[:8]) + raw[:n] + bytes(blob[8 + n:]))


def test_pickled_torch_file_renamed_is_refused(tmp_path):
    path = tmp_path / "evil.safetensors"
    torch.save(build_model("cnn").state_dict(), path)
    with pytest.raises(WeightsError, match="evil.safetensors"):
        load_weights(path)


def test_missing_file_and_wrong_model(tmp_path):
    with pytest.raises(WeightsError, match="cannot read"):
        load_weights(tmp_path / "absent.safetensors")
    save_weights(build_model("linear"), tmp_path / "lin.safetensors")
    with pytest.raises(WeightsError, match="holds the linear model, expected cnn"):
        load_weights(tmp_path / "lin.safetensors", expect="cnn")


def header_blob(header: bytes) -> bytes:
    return struct.pack("<Q", len(header)) + header


@pytest.mark.parametrize("blob, message", [
    (header_blob(b"[" * 30_000 + b"]" * 30_000), "nested too deeply"),
    (header_blob(b'{"__metadata__": ' + b"[" * 20_000 + b"]" * 20_000 + b"}"), "nested too deeply"),
    (header_blob(b"[1, 2]"), "not a table of tensors"),
    (header_blob(b'{"__metadata__": {"model": ["cnn"]}}'), "metadata values must be text"),
    (header_blob(b"{" + b" " * 70_000 + b"}"), "header is 70,002 bytes"),
    (struct.pack("<Q", 2**63) + b"{}", "header claims 9,223,372,036,854,775,808 bytes"),
], ids=["nested list", "nested metadata", "a list", "metadata not text", "huge header", "absurd length"])
def test_odd_headers_get_a_sentence(blob, message):
    with pytest.raises(WeightsError, match=message):
        weights_from_bytes(blob, source="your weights")
