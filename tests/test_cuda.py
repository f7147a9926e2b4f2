"""The CUDA path, where there is a GPU (skipped without one: no CPU machine can run it). The rest of
the suite covers the same code on the CPU."""

import dataclasses

import numpy as np
import pytest
import torch

from mnist_demo.evaluation import evaluate_digits
from mnist_demo.presets import PRESETS
from mnist_demo.training import EpochEvent, new_model, resolve_device, train

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU on this machine")


def test_auto_picks_the_gpu():
    assert resolve_device("auto").type == "cuda"


def test_fast_preset_trains_on_the_gpu_and_answers_like_the_cpu(mnist):
    cfg = dataclasses.replace(PRESETS["fast"], device="auto")
    model = new_model("cnn", cfg)
    events = [e for e in train(model, mnist, cfg) if isinstance(e, EpochEvent)]
    assert next(model.parameters()).device.type == "cuda"  # the data and the model stayed there
    assert events[-1].valid_acc >= 0.94
    x = torch.from_numpy(mnist.x_valid[:512].copy())
    with torch.inference_mode():
        on_gpu = model(x.cuda()).cpu()
        on_cpu = model.to("cpu")(x)
    assert torch.allclose(on_gpu, on_cpu, atol=1e-4)


def test_own_digits_mix_in_on_the_gpu(mnist):
    from mnist_demo.collection import Digits
    pixels = np.rint(mnist.x_valid[:40] * 256).astype(np.uint8)
    digits = Digits(pixels, mnist.y_valid[:40].astype(np.uint8), np.arange(40))
    fit, held = digits.split()
    cfg = dataclasses.replace(PRESETS["fine-tune"], epochs=1, device="cuda")
    model = new_model("cnn", cfg)
    events = [e for e in train(model, mnist, cfg, fit, held) if isinstance(e, EpochEvent)]
    assert events[-1].own_held_acc == evaluate_digits(model, held)
