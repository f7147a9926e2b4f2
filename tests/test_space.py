"""The app started as a Hugging Face Space starts it, without Hugging Face: `python app.py` with the
environment a Gradio Space gives it (SYSTEM=spaces, SPACE_ID, GRADIO_SERVER_NAME=0.0.0.0, port
7860, or a free one when 7860 is taken on this machine) and `spaces` installed, as the Space's
build installs it from requirements.txt (ZeroGPU's own SPACES_ZERO_GPU needs Hugging Face's device
service, so that part stays off). Then what a visitor does first: a drawn digit read by both
models, and a short training through the app's own /train event."""

import importlib.util
import socket

import numpy as np
import pytest
from gradio_client import handle_file

from benchmarks.harness.client import api_client, download
from benchmarks.harness.digits import drawn_digits
from benchmarks.harness.launcher import free_port, launch
from mnist_demo.lan import lan_urls
from mnist_demo.weights import load_weights
from tests.train_requests import controls

# A second server, as a Space runs it (under xdist, in a group of servers of their own: conftest.py).
pytestmark = [pytest.mark.slow, pytest.mark.long]

SPACE_PORT = 7860


def space_port() -> int:
    """7860 as on a Space, unless something here already holds it."""
    with socket.socket() as s:
        try:
            s.bind(("0.0.0.0", SPACE_PORT))
        except OSError:
            return free_port()
    return SPACE_PORT


@pytest.fixture(scope="module")
def space(tmp_path_factory):
    assert importlib.util.find_spec("spaces"), "pip install -r requirements.txt: a Space's build installs spaces"
    port = space_port()
    log = tmp_path_factory.mktemp("space") / "app.log"
    env = {"SYSTEM": "spaces", "SPACE_ID": "someone/mnist", "GRADIO_SERVER_NAME": "0.0.0.0",
           "GRADIO_SERVER_PORT": str(port)}
    with launch("app.py", log=log, port=port, env=env, timeout=180) as (url, _process):
        yield url, port, log


def test_it_listens_on_every_interface_and_says_where(space):
    import urllib.request

    url, port, log = space
    assert "Students on this network can open" in log.read_text()
    for lan in lan_urls(port)[:1]:  # a machine with a network address answers on it too
        assert urllib.request.urlopen(lan, timeout=10).status == 200


def test_a_drawn_digit_is_read_by_both_models(space, mnist, tmp_path):
    client = api_client(space[0])
    for k, (image, label, _style) in enumerate(drawn_digits(mnist.x_valid, mnist.y_valid, 4, seed=0)):
        path = tmp_path / f"{k}.png"
        image.save(path)
        result = client.predict(handle_file(str(path)), api_name="/classify")
        assert result["cnn"]["label"] == label and result["linear"]["label"] == label, (k, result)
        assert abs(sum(result["cnn"]["probabilities"]) - 1) < 1e-4


def test_a_short_training_runs_through_the_train_event(space, tmp_path):
    """The `fast` recipe on 500 digits for one epoch (in batches of 16: 32 steps), both models: the
    Train tab's own event."""
    short = controls(which="both", preset="fast", epochs=1, lr=5e-2, schedule="onecycle", subset=500, batch_size=16)
    final = api_client(space[0]).predict(*short, api_name="/train")
    assert final[2].startswith("Finished"), final[2]
    weights = {meta["model"]: (model, meta) for model, meta in map(load_weights, download(final[5], tmp_path))}
    assert sorted(weights) == ["cnn", "linear"]
    for name, (model, meta) in weights.items():
        assert meta["preset"] == "fast, trained in the app" and meta["split"].startswith("train 500 of 50000")
        # In process, seed 0: linear 80.6 %, CNN 27.2 % (it needs more steps); either way, learned.
        assert float(meta["valid_acc"]) > {"linear": 0.7, "cnn": 0.2}[name], (name, meta["valid_acc"])
        assert all(np.isfinite(p.detach().numpy()).all() for p in model.parameters())
