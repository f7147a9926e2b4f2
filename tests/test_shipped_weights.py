"""The weights in weights/ reach their bars on the tutorial's 20,000-digit validation split."""

import pytest
import torch

from mnist_demo.evaluation import evaluate
from mnist_demo.weights import load_weights

BARS = {"linear": 0.925, "cnn": 0.95}


@pytest.fixture(scope="module")
def accuracies(mnist, shipped_weights_dir):
    x = torch.from_numpy(mnist.x_valid.copy())
    y = torch.from_numpy(mnist.y_valid.copy())
    out = {}
    for name in BARS:
        model, meta = load_weights(shipped_weights_dir / f"{name}.safetensors", expect=name)
        out[name] = (evaluate(model, x, y)[1], meta)
    return out


@pytest.mark.parametrize("name", BARS)
def test_reaches_its_bar_and_metadata_is_true(accuracies, name):
    acc, meta = accuracies[name]
    assert acc >= BARS[name]
    assert float(meta["valid_acc"]) == pytest.approx(acc, abs=1e-6)
    assert "train 50000 of 50000" in meta["split"]


def test_cnn_beats_linear(accuracies):
    assert accuracies["cnn"][0] > accuracies["linear"][0] + 0.01


def test_shipped_files_are_small(shipped_weights_dir):
    for path in shipped_weights_dir.glob("*.safetensors"):
        assert path.stat().st_size < 100_000
