"""The page's training against PyTorch's (micrograd style: one sharp comparison with the reference).

Python builds each model as training.py does, takes real MNIST batches (scaled as the tutorial
scales them), and runs a few steps the way training.py's loop does, with its optimizer_for and
scheduler_for; the page's code (mnist_demo/page/train.js, optim.js, trainer.js) runs the same steps
under Node (tests/js/train_cli.js) from the same weights. Every step's loss, every gradient and
every updated weight must agree within 1e-4, for both models, Adam and SGD, constant and one-cycle.
Also: the page reads the same presets and one-cycle schedule as Python, from presets.json.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import math
import shutil
import subprocess
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mnist_demo.collection import HOLD_OUT_EVERY, Digits, held_out
from mnist_demo.evaluation import evaluate
from mnist_demo.page_assets import page_setup
from mnist_demo.presets import PRESETS, TRAINING, TrainConfig
from mnist_demo.training import augment_batch, new_model, optimizer_for, own_repeats, scheduler_for, steps_per_epoch
from mnist_demo.weights import weights_from_bytes

CLI = Path(__file__).parent / "js" / "train_cli.js"
NODE = shutil.which("node") or "node"  # .ci/run installs Node where it is missing
TOLERANCE = 1e-4
STEPS, BATCH = 3, 64

# Each recipe the presets use: Adam at a constant rate (tutorial), SGD with momentum, and one-cycle
# (fast: its learning rate and Adam's beta1 both move every step) with each optimizer. One-cycle
# runs over a short schedule, so that three steps climb a good part of its ramp.
RECIPES = {
    "adam": (PRESETS["tutorial"], STEPS),
    "sgd": (dataclasses.replace(PRESETS["tutorial"], optimizer="sgd", lr=0.05), STEPS),
    "one-cycle adam": (PRESETS["fast"], 10),
    "one-cycle sgd": (dataclasses.replace(PRESETS["fast"], optimizer="sgd"), 10),
}


def run_node(command: str, spec: dict, tmp_path: Path):
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    subprocess.run([NODE, str(CLI), command, tmp_path / "spec.json", tmp_path / "out.json"], check=True, timeout=300)
    return json.loads((tmp_path / "out.json").read_text())


def f32(array) -> str:
    return base64.b64encode(np.ascontiguousarray(array, "<f4").tobytes()).decode()


def torch_steps(model, cfg: TrainConfig, total_steps: int, batches):
    """training.py's loop body on each batch: what the page must reproduce, step by step."""
    opt = optimizer_for(model, cfg)
    sched = scheduler_for(opt, cfg, total_steps)
    out = []
    for xb, yb in batches:
        group = opt.param_groups[0]
        lr, momentum = group["lr"], group["momentum"] if cfg.optimizer == "sgd" else group["betas"][0]
        loss = F.cross_entropy(model(torch.from_numpy(xb)), torch.from_numpy(yb))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        grads = {k: p.grad.detach().numpy().copy() for k, p in model.named_parameters()}
        opt.step()
        if sched is not None:
            sched.step()
        out.append({"loss": loss.item(), "lr": lr, "momentum": momentum, "grads": grads,
                    "params": {k: v.detach().numpy().copy() for k, v in model.state_dict().items()}})
    return out


@pytest.mark.parametrize("recipe", list(RECIPES))
@pytest.mark.parametrize("name", ["linear", "cnn"])
def test_training_steps_equal_torch(mnist, tmp_path, name, recipe):
    cfg, total_steps = RECIPES[recipe]
    rng = np.random.default_rng(zlib.crc32(f"{name} {recipe}".encode()))  # a batch of its own, every run the same
    rows = rng.choice(len(mnist.x_train), STEPS * BATCH, replace=False).reshape(STEPS, BATCH)
    batches = [(mnist.x_train[r], mnist.y_train[r].astype(np.int64)) for r in rows]
    model = new_model(name, cfg)
    start = {k: v.detach().numpy().copy() for k, v in model.state_dict().items()}
    expected = torch_steps(model, cfg, total_steps, batches)
    page = run_node("steps", {
        "model": name, "training": page_setup()["training"], "config": dataclasses.asdict(cfg),
        "total_steps": total_steps, "params": {k: f32(v) for k, v in start.items()},
        "batches": [{"x": f32(x), "labels": y.tolist()} for x, y in batches]}, tmp_path)
    assert len(page) == STEPS
    for step, (want, got) in enumerate(zip(expected, page, strict=True)):
        assert math.isclose(got["lr"], want["lr"], rel_tol=1e-9), (step, "lr")
        assert math.isclose(got["momentum"], want["momentum"], rel_tol=1e-9), (step, "momentum")
        assert abs(got["loss"] - want["loss"]) <= TOLERANCE, (step, "loss", got["loss"], want["loss"])
        for kind in ("grads", "params"):
            assert set(got[kind]) == set(want[kind]), (step, kind)
            for key, ref in want[kind].items():
                diff = np.abs(np.asarray(got[kind][key]) - ref.reshape(-1)).max()
                assert diff <= TOLERANCE, f"step {step}: {kind} of {key} differ by {diff:.2e}"
    # The steps did something: the weights moved, by more than the tolerance.
    moved = max(np.abs(expected[-1]["params"][k] - start[k]).max() for k in start)
    assert moved > 10 * TOLERANCE


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_the_one_cycle_schedule_equals_torchs_at_every_step(tmp_path, optimizer):
    """The fast preset's whole schedule on all 50,000 digits: every step's learning rate, and the
    momentum (SGD's) or beta1 (Adam's) that OneCycleLR cycles with it."""
    cfg = dataclasses.replace(PRESETS["fast"], optimizer=optimizer)
    total = cfg.epochs * math.ceil(50_000 / cfg.batch_size)
    opt = optimizer_for(new_model("linear", cfg), cfg)
    sched = scheduler_for(opt, cfg, total)
    lrs, moms = [], []
    for _ in range(total + 1):
        group = opt.param_groups[0]
        lrs.append(group["lr"])
        moms.append(group["momentum"] if optimizer == "sgd" else group["betas"][0])
        if len(lrs) <= total:
            opt.step()  # no gradients: changes nothing, but torch wants a step before each of the schedule's
            sched.step()
    page = run_node("schedule", {"training": TRAINING, "config": dataclasses.asdict(cfg), "total_steps": total},
                    tmp_path)
    np.testing.assert_allclose(page["lr"], lrs, rtol=1e-9, atol=0)
    np.testing.assert_allclose(page["momentum"], moms, rtol=1e-9, atol=0)
    assert max(lrs) == pytest.approx(cfg.lr) and min(lrs) < cfg.lr / 1e5  # the whole cycle, up and down


def test_the_page_reads_pythons_presets(tmp_path):
    """presets.json, sent to the page as setup.training, gives the page Python's PRESETS, value for value."""
    setup = page_setup()
    assert setup["training"] == TRAINING == json.loads(Path(TRAINING_FILE).read_text(encoding="utf-8"))
    assert set(TRAINING["settings"]) == {f.name for f in dataclasses.fields(TrainConfig)}
    page = run_node("presets", {"training": setup["training"]}, tmp_path)
    assert page == {name: dataclasses.asdict(cfg) for name, cfg in PRESETS.items()}


def test_training_py_gives_torch_presets_jsons_options():
    """What the page's optim.js assumes of torch's optimizers and of OneCycleLR is what training.py
    constructs (presets.json's values, not torch's defaults by chance)."""
    for kind, options in TRAINING["optimizers"].items():
        opt = optimizer_for(new_model("linear", TrainConfig()), dataclasses.replace(TrainConfig(), optimizer=kind))
        group = opt.param_groups[0]
        for key, value in options.items():
            assert (list(group[key]) if key == "betas" else group[key]) == value, (kind, key)
    cfg = PRESETS["fast"]
    sched = scheduler_for(optimizer_for(new_model("linear", cfg), cfg), cfg, 100)
    assert isinstance(sched, torch.optim.lr_scheduler.OneCycleLR)
    assert sched._anneal_func_type == TRAINING["schedules"]["onecycle"]["anneal_strategy"]
    assert scheduler_for(optimizer_for(new_model("linear", PRESETS["tutorial"]), PRESETS["tutorial"]),
                         PRESETS["tutorial"], 100) is None


TRAINING_FILE = Path(__file__).resolve().parents[1] / "mnist_demo" / "presets.json"


def test_a_model_trained_in_the_page_is_as_good_in_python_as_the_page_says(mnist, tmp_path):
    """The linear model, the fast recipe for one epoch on 5,000 digits and 60 "own" digits (the
    last validation digits, a quarter held out), trained by the page's loop (trainer.js's
    trainEpochs, the batch split over two workers) from digits kept as bytes; its downloaded
    .safetensors, read by weights.py as the app reads any weights file, scores in torch on the same
    2,000 validation digits, and on the held-out own digits, what the page measured."""
    setup, n_train, n_valid = page_setup(), 5000, 2000
    cfg = dataclasses.replace(PRESETS["fast"], epochs=1, limit=n_train)
    scale = setup["recipe"]["pixel_scale"]

    def as_bytes(x):  # the tutorial's pixels / 256, back to MNIST's bytes (exact: x is k / 256)
        b = np.rint(x * scale)
        assert np.array_equal(b / scale, x)
        return base64.b64encode(b.astype(np.uint8).tobytes()).decode()

    mine = Digits(np.rint(mnist.x_valid[-60:] * scale).astype(np.uint8), mnist.y_valid[-60:].astype(np.uint8),
                  np.arange(60))
    fit, held = mine.split()
    model = new_model("linear", cfg)
    out = run_node("train", {
        "model": "linear", "training": setup["training"], "config": dataclasses.asdict(cfg),
        "shapes": setup["shapes"]["linear"],
        "params": {k: f32(v.detach().numpy()) for k, v in model.state_dict().items()}, "scale": scale, "workers": 2,
        "train": {"x": as_bytes(mnist.x_train[:n_train]), "y": mnist.y_train[:n_train].tolist()},
        "valid": {"x": as_bytes(mnist.x_valid[:n_valid]), "y": mnist.y_valid[:n_valid].tolist()},
        "own": {"x": as_bytes(fit.x), "y": fit.labels.tolist()},
        "own_held": {"x": as_bytes(held.x), "y": held.labels.tolist()}}, tmp_path)
    steps = [e for e in out["events"] if e["kind"] == "step"]
    (epoch,) = [e for e in out["events"] if e["kind"] == "epoch"]
    assert steps[-1]["step"] == steps[-1]["steps"] == steps_per_epoch(mnist, cfg, fit)  # the own digits' rows too
    assert steps[-1]["loss"] < steps[0]["loss"]
    trained, meta = weights_from_bytes(base64.b64decode(out["safetensors"]))
    assert meta["model"] == "linear"
    loss, acc = evaluate(trained, torch.tensor(mnist.x_valid[:n_valid]), torch.tensor(mnist.y_valid[:n_valid]))
    assert abs(acc - epoch["valid_acc"]) <= 1 / n_valid  # a digit on a knife's edge may fall either way
    assert abs(loss - epoch["valid_loss"]) <= 1e-4
    assert acc >= 0.85, acc  # it learned: one epoch on 5,000 digits
    held_acc = evaluate(trained, torch.tensor(held.x), torch.tensor(held.y))[1]
    assert abs(held_acc - epoch["own_held_acc"]) <= 1 / len(held)


def test_the_page_augments_a_digit_as_training_py_does(mnist, tmp_path):
    """The visitor's digits are augmented in training (training.py's augment_batch); the page's
    augment.js gives the same pictures for the same random draws: 200 validation digits, each with
    its own rotation, scale, shift and stroke thickness (both thicker and thinner)."""
    n, seed = 200, 11
    x = torch.tensor(mnist.x_valid[:n])
    expected = augment_batch(x, torch.Generator().manual_seed(seed)).numpy()
    u = torch.rand(n, 5, generator=torch.Generator().manual_seed(seed)) * 2 - 1  # the draws augment_batch made
    assert (u[:, 4] * 0.6 + 0.2 < 0).any() and (u[:, 4] * 0.6 + 0.2 > 0).any()
    page = run_node("augment", {"x": f32(x.numpy()), "u": f32(u.numpy()),
                                "augmentation": page_setup()["training"]["augmentation"]}, tmp_path)
    page = np.asarray(page["x"], np.float32).reshape(n, 784)
    assert np.abs(page - expected).max() <= 1e-5
    assert np.abs(expected - x.numpy()).max() > 0.5  # the digits did change


def test_torch_starts_weights_where_the_page_does():
    """The page's new weights (trainer.js's newParams) are uniform in +-1/sqrt(fan_in), as it says
    torch's are: held here against torch itself, for every tensor of both models."""
    for name in ("linear", "cnn"):
        for key, values in new_model(name, PRESETS["tutorial"]).state_dict().items():
            weight = dict(new_model(name, PRESETS["tutorial"]).state_dict())[key.replace(".bias", ".weight")]
            bound = 1 / math.sqrt(math.prod(weight.shape[1:]))
            largest = values.abs().max().item()
            assert largest <= bound and (values.numel() < 20 or largest > 0.8 * bound), (name, key, largest, bound)


def test_the_page_mixes_a_visitors_digits_in_as_training_py_does(tmp_path):
    """Which of a visitor's digits are held out (collection.held_out), and how many times each of
    the others is repeated per epoch (training.own_repeats, Python's round included)."""
    rng = np.random.default_rng(5)
    labels = [rng.integers(0, 10, n).tolist() for n in (0, 1, 3, 10, 40, 400, 2000)] + [[7] * 9, list(range(10)) * 3]
    repeats = [[rows, digits, share] for rows in (10, 5000, 10_000, 50_000) for digits in (0, 1, 3, 40, 2000)
               for share in (0.0, 0.05, 0.1, 0.2, 0.3, 0.5)] + [[10, 4, 0.5], [30, 4, 0.25]]  # halves: 2.5, 2.5
    page = run_node("own", {"labels": labels, "every": page_setup()["hold_out_every"], "repeats": repeats}, tmp_path)
    assert page_setup()["hold_out_every"] == HOLD_OUT_EVERY
    assert page["held"] == [held_out(np.array(x, dtype=np.uint8)).tolist() for x in labels]
    assert page["repeats"] == [own_repeats(*r) for r in repeats]
