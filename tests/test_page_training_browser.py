"""The page's training in Chromium, with real Web Workers (the Node tests use worker threads): the
linear model trained by trainer.js's trainEpochs, its batches split over two Web Workers made from
the page's scripts and train_worker.js, on MNIST digits kept as bytes; its weights written as
.safetensors in the page, read by weights.py and measured in torch, score what the page measured.
The page fetches nothing while it trains (benchmarks/harness/training_page.py serves it alone)."""

from __future__ import annotations

import base64
import dataclasses

import numpy as np
import pytest
import torch

from benchmarks.harness.training_page import URL, training_page
from mnist_demo.evaluation import evaluate
from mnist_demo.page_assets import page_setup
from mnist_demo.presets import PRESETS
from mnist_demo.weights import weights_from_bytes

pytestmark = pytest.mark.browser  # drives Chromium

TRAIN_IN_THE_PAGE = """async ({spec, trainX, validX}) => {
  const bytes = (text) => Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
  const R = MnistTrainer, setup = spec.setup, config = spec.config;
  const params = R.newParams("linear", setup.shapes.linear, config);
  const { workers, inWorkers } = R.startWorkers("linear", true, 2, () => new Worker(trainingWorkerUrl));
  const digits = (x, y) => ({ x: bytes(x), y: Uint8Array.from(y), count: y.length });
  const events = [];
  try {
    for await (const event of R.trainEpochs({ model: "linear", params, config, training: setup.training,
        data: digits(trainX, spec.train_y), valid: digits(validX, spec.valid_y), workers,
        scale: setup.recipe.pixel_scale })) events.push(event);
  } finally {
    workers.forEach((w) => w.terminate && w.terminate());
  }
  const file = MnistWeights.toSafetensors(params, setup.shapes.linear, { model: "linear", final_relu: "true" });
  let text = "";
  for (let i = 0; i < file.length; i += 8192) text += String.fromCharCode.apply(null, file.subarray(i, i + 8192));
  return { events, inWorkers, safetensors: btoa(text) };
}"""


def test_the_page_trains_in_web_workers_and_python_agrees_with_its_figure(browser, mnist):
    n_train, n_valid = 5000, 2000
    setup = page_setup()
    scale = setup["recipe"]["pixel_scale"]
    cfg = dataclasses.replace(PRESETS["fast"], epochs=1, limit=n_train)

    def as_bytes(x):
        return base64.b64encode(np.rint(x * scale).astype(np.uint8).tobytes()).decode()

    page = training_page(browser)
    requests = []
    page.on("request", lambda request: requests.append(request.url))
    try:
        out = page.evaluate(TRAIN_IN_THE_PAGE, {
            "spec": {"setup": setup, "config": dataclasses.asdict(cfg), "train_y": mnist.y_train[:n_train].tolist(),
                     "valid_y": mnist.y_valid[:n_valid].tolist()},
            "trainX": as_bytes(mnist.x_train[:n_train]), "validX": as_bytes(mnist.x_valid[:n_valid])})
    finally:
        page.close()
    assert out["inWorkers"], "the page trained on its main thread: its Web Workers did not start"
    assert all(url.startswith(("blob:", URL)) for url in requests), requests
    (epoch,) = [e for e in out["events"] if e["kind"] == "epoch"]
    model, meta = weights_from_bytes(base64.b64decode(out["safetensors"]))
    assert meta["model"] == "linear"
    loss, acc = evaluate(model, torch.tensor(mnist.x_valid[:n_valid]), torch.tensor(mnist.y_valid[:n_valid]))
    assert abs(acc - epoch["valid_acc"]) <= 1 / n_valid  # a digit on a knife's edge may fall either way
    assert abs(loss - epoch["valid_loss"]) <= 1e-4
    assert acc >= 0.85, acc
