import dataclasses
import math

import pytest
import torch

from mnist_demo.train import (
    PRESETS,
    EpochEvent,
    StepEvent,
    TrainConfig,
    augment_batch,
    check_config,
    evaluate,
    main,
    new_model,
    train,
)
from mnist_demo.weights import load_weights

SMALL = TrainConfig(epochs=2, limit=2000, batch_size=64, log_every=10, device="cpu")


def run(name, mnist, cfg):
    model = new_model(name, cfg)
    events = list(train(model, mnist, cfg))
    return model, events


def test_events_stream_and_loss_falls(mnist):
    model, events = run("linear", mnist, SMALL)
    steps = [e for e in events if isinstance(e, StepEvent)]
    epochs = [e for e in events if isinstance(e, EpochEvent)]
    per_epoch = math.ceil(2000 / 64)
    assert len(epochs) == 2 and [e.epoch for e in epochs] == [0, 1]
    assert len(steps) == 2 * math.ceil(per_epoch / 10)
    assert steps[0].steps_per_epoch == per_epoch and steps[-1].step == per_epoch
    assert steps[-1].train_loss < steps[0].train_loss * 0.5
    assert epochs[1].valid_loss < epochs[0].valid_loss
    assert epochs[1].valid_acc > 0.8
    assert all(e.samples_per_sec > 0 for e in epochs)
    # the model is left trained and in eval mode, and its accuracy is what the event said
    assert not model.training
    x = torch.from_numpy(mnist.x_valid.copy())
    y = torch.from_numpy(mnist.y_valid.copy())
    assert evaluate(model, x, y)[1] == pytest.approx(epochs[-1].valid_acc)


def test_same_seed_same_run_other_seed_other_run(mnist):
    cfg = dataclasses.replace(SMALL, epochs=1, limit=640)
    a = [e.train_loss for e in run("cnn", mnist, cfg)[1] if isinstance(e, StepEvent)]
    b = [e.train_loss for e in run("cnn", mnist, cfg)[1] if isinstance(e, StepEvent)]
    c = [e.train_loss for e in run("cnn", mnist, dataclasses.replace(cfg, seed=1))[1]
         if isinstance(e, StepEvent)]
    assert a == b
    assert a != c


def test_stopping_between_events_keeps_the_partial_model(mnist):
    cfg = dataclasses.replace(SMALL, epochs=50)
    model = new_model("linear", cfg)
    before = model.lin.weight.detach().clone()
    gen = train(model, mnist, cfg)
    events = [next(gen) for _ in range(3)]
    gen.close()
    event = events[-1]
    assert isinstance(event, StepEvent) and event.epoch == 0
    assert not torch.equal(before, model.lin.weight)


def test_one_cycle_preset_starts_every_class_alive(mnist):
    cfg = dataclasses.replace(PRESETS["one-cycle"], epochs=2, limit=3000, device="cpu")
    model = new_model("cnn", cfg)
    assert torch.all(model.conv3.bias == 1.0)
    events = list(train(model, mnist, cfg))
    assert events[-1].valid_acc > 0.6
    with torch.no_grad():
        predicted = model(torch.from_numpy(mnist.x_valid[:2000].copy())).argmax(1)
    assert set(predicted.tolist()) == set(range(10))  # no dead class


def test_sgd_and_augmentation_train(mnist):
    cfg = dataclasses.replace(SMALL, optimizer="sgd", lr=0.05, augment=True,
                              class_bias_init=1.0)
    _, events = run("cnn", mnist, cfg)
    assert events[-1].valid_loss < math.log(10)


def test_augment_keeps_shape_and_ink():
    x = torch.zeros(8, 784)
    x.view(8, 28, 28)[:, 10:18, 12:16] = 0.9
    out = augment_batch(x, torch.Generator().manual_seed(0))
    assert out.shape == x.shape
    assert not torch.equal(out, x)
    assert torch.all(out.sum(1) > 0.3 * x.sum(1))


@pytest.mark.parametrize("field, value", [
    ("epochs", 10**6), ("epochs", 0), ("batch_size", 10**7), ("lr", 10.0), ("lr", float("nan")),
    ("limit", 5), ("optimizer", "lbfgs"), ("schedule", "cosine"), ("device", "tpu")])
def test_bounds_are_refused(field, value):
    with pytest.raises(ValueError, match=field):
        check_config(dataclasses.replace(TrainConfig(), **{field: value}))


def test_defaults_are_the_tutorials_recipe():
    cfg = PRESETS["tutorial"]
    assert (cfg.epochs, cfg.lr, cfg.batch_size, cfg.optimizer, cfg.schedule) == (15, 1e-3, 64, "adam",
                                                                                 "constant")
    assert cfg.final_relu and cfg.class_bias_init is None
    assert check_config(cfg) is cfg


def test_cli_writes_loadable_weights(tmp_path, capsys):
    rc = main(["--model", "both", "--epochs", "1", "--limit", "1000", "--out", str(tmp_path),
               "--preset", "one-cycle", "--seed", "3"])
    assert rc == 0
    out = capsys.readouterr().out
    assert "linear epoch  0  valid_loss" in out and "cnn epoch  0" in out
    for name in ("linear", "cnn"):
        model, meta = load_weights(tmp_path / f"{name}.safetensors", expect=name)
        assert meta["preset"] == "one-cycle" and '"seed": 3' in meta["config"]
        assert 0 < float(meta["valid_acc"]) <= 1
        assert "train 1000 of 50000" in meta["split"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cnn.safetensors", "linear.safetensors"]


def test_cli_dry_run_writes_nothing(tmp_path):
    assert main(["--model", "cnn", "--dry-run", "--out", str(tmp_path / "w")]) == 0
    assert not (tmp_path / "w").exists()


def test_cli_refuses_bad_values(tmp_path, capsys):
    assert main(["--epochs", "1000000", "--out", str(tmp_path)]) == 2
    assert "epochs must be between" in capsys.readouterr().err


def test_cli_reports_missing_data(tmp_path, capsys):
    assert main(["--data-dir", str(tmp_path), "--dry-run"]) == 1
    assert "missing train-images-idx3-ubyte" in capsys.readouterr().err


def test_a_target_accuracy_stops_after_the_first_epoch_that_reaches_it(mnist):
    cfg = TrainConfig(epochs=6, limit=3000, target_acc=0.8, device="cpu")
    epochs = [e for e in train(new_model("linear", cfg), mnist, cfg) if isinstance(e, EpochEvent)]
    assert epochs[-1].valid_acc >= 0.8 and all(e.valid_acc < 0.8 for e in epochs[:-1])
    assert len(epochs) < 6
    out_of_reach = dataclasses.replace(cfg, epochs=2, target_acc=0.999)
    assert sum(isinstance(e, EpochEvent) for e in train(new_model("linear", out_of_reach), mnist, out_of_reach)) == 2


def test_cli_says_whether_the_target_was_reached(tmp_path, capsys):
    assert main(["--model", "linear", "--epochs", "5", "--limit", "3000", "--target-acc", "0.8",
                 "--out", str(tmp_path)]) == 0
    assert "linear: reached the 80.00% target" in capsys.readouterr().out
    assert main(["--model", "linear", "--epochs", "1", "--limit", "1000", "--target-acc", "0.999",
                 "--out", str(tmp_path)]) == 0
    assert "linear: did not reach the 99.90% target" in capsys.readouterr().out
    assert main(["--target-acc", "1.5", "--out", str(tmp_path)]) == 2
