"""The page against Python: what the page is sent (page_assets.page_setup) is Python's own
truth, and the page's JavaScript (mnist_demo/page/*.js) computes what the Python reference does,
on real data, run under Node (tests/js/page_cli.js). The same comparison through real mouse
strokes in Chromium is in tests/test_pad.py."""

import base64
import json
import shutil
import subprocess
from pathlib import Path

import gradio as gr
import numpy as np
import pytest
import torch
from scipy import ndimage

from benchmarks.harness.digits import redraw
from mnist_demo import inputs, page_assets, ui_draw, weights
from mnist_demo.collection import to_bytes
from mnist_demo.data import MnistSource
from mnist_demo.inference import Predictor, load_shipped_models
from mnist_demo.models import MODEL_NAMES, MODEL_TITLES, build_model
from mnist_demo.page_assets import SHIPPED, page_setup, page_weights
from mnist_demo.preprocess import ink_to_mnist

CLI = Path(__file__).parent / "js" / "page_cli.js"
NODE = shutil.which("node") or "node"  # .ci/run installs Node where it is missing


def run_node(*args):
    subprocess.run([NODE, str(CLI), *map(str, args)], check=True, timeout=300)


def test_the_page_is_sent_pythons_own_values():
    """Each value the page shares with Python, as page_setup() sends it, against where Python
    keeps it. The page's Node tests read page_setup() too (tests/js/helpers.js), and
    tests/js/setup.test.js checks that pad.js reads these rather than writing its own."""
    setup = page_setup()
    assert json.loads(json.dumps(setup)) == setup  # plain JSON, as gr.HTML sends it
    assert setup["names"] == list(MODEL_NAMES) and setup["titles"] == MODEL_TITLES
    assert setup["shapes"] == {n: {k: list(v.shape) for k, v in build_model(n).state_dict().items()}
                               for n in MODEL_NAMES}
    recipe_file = Path(page_assets.__file__).with_name("recipe.json")
    assert setup["recipe"] == json.loads(recipe_file.read_text(encoding="utf-8"))
    assert setup["max_weights_bytes"] == weights.MAX_BYTES
    assert setup["shipped"] == SHIPPED == inputs.SHIPPED
    assert page_weights(build_model("linear"), SHIPPED)["source"] == setup["shipped"]
    assert setup["class_model"] == inputs.CLASS  # the class line tells the class's model by this source


def test_the_draw_tab_sends_page_setup():
    with gr.Blocks():
        tab = ui_draw.draw_tab(Predictor(), gr.State(None), lambda entry: {}, MnistSource())
    assert tab.pad.props["setup"] == page_setup()
    assert {m["source"] for m in tab.pad.props["models"].values()} == {SHIPPED}
    assert tab.pad.head.startswith("".join(f'<script src="{page_assets.script_url(name)}"></script>'
                                            for name in page_assets.PAGE_SCRIPTS))
    for name in MODEL_NAMES:  # the cards come from setup.names, not from the template
        assert f"card-{name}" not in tab.pad.html_template


def test_forward_passes_equal_torch_on_1000_validation_digits(mnist, shipped_weights_dir, tmp_path):
    x = mnist.x_valid[np.random.default_rng(0).choice(len(mnist.x_valid), 1000, replace=False)]
    spec = {"setup": page_setup(), **{n: base64.b64encode((shipped_weights_dir / f"{n}.safetensors").read_bytes())
                                      .decode() for n in MODEL_NAMES}}
    (tmp_path / "weights.json").write_text(json.dumps(spec))
    x.astype("<f4").tofile(tmp_path / "x.bin")
    run_node("forward", tmp_path / "weights.json", tmp_path / "x.bin", tmp_path / "logits.bin")
    page = np.fromfile(tmp_path / "logits.bin", "<f8").reshape(-1, len(MODEL_NAMES), 10)
    models = load_shipped_models(shipped_weights_dir)
    with torch.inference_mode():
        for k, name in enumerate(MODEL_NAMES):
            ref = models[name](torch.tensor(x)).numpy()
            assert np.abs(page[:, k] - ref).max() <= 1e-4, name
            assert (page[:, k].argmax(1) == ref.argmax(1)).all()


@pytest.mark.slow  # the quick loop skips it: a 200-digit sweep (the JS unit tests cover the recipe)
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


def test_the_page_stores_a_digit_as_the_collection_keeps_it(mnist, tmp_path):
    """The page keeps digits in the browser as MNIST's bytes (page/store.js); the server's
    collection makes the same bytes of the same numbers (collection.to_bytes), halves included."""
    x = np.concatenate([mnist.x_valid[:200].reshape(-1),
                        np.random.default_rng(0).random(784 * 20, dtype=np.float32),
                        np.arange(0, 256, 0.5, dtype=np.float32) / 256,  # every half-way case
                        np.zeros(784 - 512, np.float32)]).astype("<f4").reshape(-1, 784)
    x.tofile(tmp_path / "x.bin")
    run_node("bytes", tmp_path / "x.bin", tmp_path / "bytes.bin")
    page = np.fromfile(tmp_path / "bytes.bin", np.uint8).reshape(-1, 784)
    np.testing.assert_array_equal(page, np.stack([to_bytes(row) for row in x]))
