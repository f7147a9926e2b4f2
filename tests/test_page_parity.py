"""The page's JavaScript (mnist_demo/page/*.js) against the Python reference, on real data,
run under Node (tests/js/page_cli.js). The same comparison through real mouse strokes in
Chromium is in tests/test_pad.py."""

import base64
import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import torch
from scipy import ndimage

from mnist_demo.inference import load_shipped_models
from mnist_demo.preprocess import ink_to_mnist
from mnist_demo.ui_draw import model_shapes
from tests.drawn_digits import redraw

CLI = Path(__file__).parent / "js" / "page_cli.js"
NODE = shutil.which("node") or "node"  # .ci/run installs Node where it is missing


def run_node(*args):
    subprocess.run([NODE, str(CLI), *map(str, args)], check=True, timeout=300)


def test_forward_passes_equal_torch_on_1000_validation_digits(mnist, shipped_weights_dir, tmp_path):
    x = mnist.x_valid[np.random.default_rng(0).choice(len(mnist.x_valid), 1000, replace=False)]
    spec = {"shapes": model_shapes(), **{n: base64.b64encode((shipped_weights_dir / f"{n}.safetensors").read_bytes())
                                         .decode() for n in ("linear", "cnn")}}
    (tmp_path / "weights.json").write_text(json.dumps(spec))
    x.astype("<f4").tofile(tmp_path / "x.bin")
    run_node("forward", tmp_path / "weights.json", tmp_path / "x.bin", tmp_path / "logits.bin")
    page = np.fromfile(tmp_path / "logits.bin", "<f8").reshape(-1, 2, 10)
    models = load_shipped_models(shipped_weights_dir)
    with torch.inference_mode():
        for k, name in enumerate(("linear", "cnn")):
            ref = models[name](torch.tensor(x)).numpy()
            assert np.abs(page[:, k] - ref).max() <= 1e-4, name
            assert (page[:, k].argmax(1) == ref.argmax(1)).all()


def test_preprocessing_equals_python_on_redrawn_digits(mnist, tmp_path):
    """Validation digits re-drawn on a 448 px canvas with hard and soft (anti-aliased) edges."""
    rng = np.random.default_rng(3)
    inks = []
    for n, i in enumerate(rng.choice(len(mnist.x_valid), 200, replace=False)):
        mask = redraw(mnist.x_valid[i].reshape(28, 28), rng, canvas=448)
        inks.append(mask if n % 2 else ndimage.gaussian_filter(mask.astype(np.float32), 1.0).astype(np.uint8))
    inks.append(np.zeros((448, 448), np.uint8))  # nothing drawn
    inks = np.stack(inks)
    with open(tmp_path / "inks.bin", "wb") as f:
        f.write(np.array(inks.shape, "<u4").tobytes() + inks.tobytes())
    run_node("preprocess", tmp_path / "inks.bin", tmp_path / "digits.bin")
    page = np.fromfile(tmp_path / "digits.bin", "<f4").reshape(len(inks), 28, 28)
    for k, ink in enumerate(inks):
        ref = ink_to_mnist(ink)
        if ref is None:
            assert np.isnan(page[k]).all(), k
        else:
            assert np.abs(page[k] - ref).max() <= 1e-4, k
    assert np.isnan(page[-1]).all()
