import dataclasses
import math
import re

import pytest
import torch

from mnist_demo.evaluation import evaluate, evaluate_digits
from mnist_demo.presets import PRESETS, TrainConfig, check_config, setting_of
from mnist_demo.train import main, parse_args
from mnist_demo.training import (
    EpochEvent,
    OwnMix,
    StepEvent,
    augment_batch,
    new_model,
    own_repeats,
    run_metadata,
    steps_per_epoch,
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


def test_same_seed_same_run_other_seed_other_run(mnist_small):
    cfg = dataclasses.replace(SMALL, epochs=1, limit=640)
    a = [e.train_loss for e in run("cnn", mnist_small, cfg)[1] if isinstance(e, StepEvent)]
    b = [e.train_loss for e in run("cnn", mnist_small, cfg)[1] if isinstance(e, StepEvent)]
    c = [e.train_loss for e in run("cnn", mnist_small, dataclasses.replace(cfg, seed=1))[1]
         if isinstance(e, StepEvent)]
    assert a == b
    assert a != c


def test_stopping_between_events_keeps_the_partial_model(mnist_small):
    cfg = dataclasses.replace(SMALL, epochs=50)
    model = new_model("linear", cfg)
    before = model.lin.weight.detach().clone()
    gen = train(model, mnist_small, cfg)
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


def test_sgd_and_augmentation_train(mnist_small):
    cfg = dataclasses.replace(SMALL, optimizer="sgd", lr=0.05, augment=True,
                              class_bias_init=1.0)
    _, events = run("cnn", mnist_small, cfg)
    assert events[-1].valid_loss < math.log(10)


def test_augment_keeps_shape_and_ink():
    x = torch.zeros(8, 784)
    x.view(8, 28, 28)[:, 10:18, 12:16] = 0.9
    out = augment_batch(x, torch.Generator().manual_seed(0))
    assert out.shape == x.shape
    assert not torch.equal(out, x)
    assert torch.all(out.sum(1) > 0.3 * x.sum(1))


def bounded_fields():
    return [f.name for f in dataclasses.fields(TrainConfig) if setting_of(f.name).low is not None]


@pytest.mark.parametrize("field", bounded_fields())
def test_each_bound_is_checked_from_the_fields_metadata(field):
    """Just inside each end passes, just outside fails with the field's own message."""
    rule = setting_of(field)
    step = 1 if isinstance(rule.high, int) and rule.high > 1 else 1e-6
    for inside in (rule.low, rule.high):
        check_config(dataclasses.replace(TrainConfig(), **{field: inside}))
    for outside in (rule.low - step, rule.high + step):
        with pytest.raises(ValueError, match=re.escape(f"{field} must be between {rule.low:g} and ")):
            check_config(dataclasses.replace(TrainConfig(), **{field: outside}))


def test_every_setting_has_help_and_the_numbers_bounds():
    for f in dataclasses.fields(TrainConfig):
        rule = setting_of(f.name)
        assert rule.help, f.name
        assert rule.choices or f.type.startswith("bool") or rule.low is not None, f"{f.name} has no bounds"
    assert bounded_fields() == ["epochs", "lr", "batch_size", "class_bias_init", "limit", "seed", "log_every",
                                "target_acc", "own_share"]


@pytest.mark.parametrize("field, value, message", [
    ("lr", float("nan"), "lr must be between"), ("optimizer", "lbfgs", "optimizer must be one of adam, sgd"),
    ("schedule", "cosine", "schedule must be one of constant, onecycle"),
    ("device", "tpu", "device must be one of auto, cpu, cuda")])
def test_not_a_number_and_unknown_choices_are_refused(field, value, message):
    with pytest.raises(ValueError, match=f"^{message}"):
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
        assert meta["split"].startswith("train 1000 of 50000 / valid 20000")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cnn.safetensors", "linear.safetensors"]


def test_cli_dry_run_writes_nothing(tmp_path):
    assert main(["--model", "cnn", "--dry-run", "--out", str(tmp_path / "w")]) == 0
    assert not (tmp_path / "w").exists()


def test_cli_refuses_bad_values(tmp_path, capsys):
    assert main(["--epochs", "1000000", "--out", str(tmp_path)]) == 2
    assert "epochs must be between" in capsys.readouterr().err


def test_help_works_and_names_every_preset(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert all(f"{name}: " in out for name in PRESETS)
    assert "75-92 %" in out  # a % in help text comes out as written


def test_options_are_generated_from_the_config_fields_under_their_old_names():
    args = parse_args(["--epochs", "3", "--lr", "0.01", "--batch-size", "32", "--optimizer", "sgd",
                       "--schedule", "onecycle", "--class-bias-init", "1", "--no-final-relu", "--augment",
                       "--seed", "4", "--target-acc", "0.9", "--limit", "500", "--device", "cpu",
                       "--extra-share", "0.2", "--extra-digits", "a.gz"])
    assert (args.epochs, args.lr, args.batch_size, args.optimizer, args.schedule) == (3, 0.01, 32, "sgd", "onecycle")
    assert (args.class_bias_init, args.final_relu, args.augment, args.seed) == (1.0, False, True, 4)
    assert (args.target_acc, args.limit, args.device, args.own_share, args.own_digits) == (0.9, 500, "cpu", 0.2,
                                                                                          ["a.gz"])
    given = parse_args(["--own-share", "0.3", "--own-digits", "b.gz"])
    assert (given.own_share, given.own_digits) == (0.3, ["b.gz"])
    assert not hasattr(parse_args([]), "epochs")  # not given: the preset's value stands


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


# ---------------------------------------------------------------------------- your own digits


def slashed_zeros(mnist, n=40):
    """MNIST's zeros with a slash through them, as some people write 0: the shipped CNN reads 8s."""
    import numpy as np

    from mnist_demo.collection import Digits

    zeros = mnist.x_valid[mnist.y_valid == 0][:n].reshape(-1, 28, 28).copy()
    for t in np.linspace(0, 1, 60):
        y, x = int(round(23 - 18 * t)), int(round(6 + 16 * t))
        zeros[:, y:y + 2, x:x + 2] = 255 / 256
    pixels = np.rint(zeros.reshape(-1, 784) * 256).astype(np.uint8)
    return Digits(pixels, np.zeros(n, np.uint8), np.arange(n))


def test_own_digits_are_oversampled_to_their_share_of_each_epoch(mnist):
    own = slashed_zeros(mnist, 30)
    cfg = TrainConfig(limit=10_000, batch_size=100, own_share=0.05)
    repeats = own_repeats(10_000, 30, 0.05)
    assert repeats == round(0.05 / 0.95 * 10_000 / 30) == 18
    assert OwnMix.of(mnist, cfg, own) == OwnMix(10_000, 30, 18)
    assert steps_per_epoch(mnist, cfg, own) == math.ceil((10_000 + 30 * 18) / 100)
    assert own_repeats(10_000, 0, 0.05) == 0 and own_repeats(10, 5000, 0.05) == 1
    meta = run_metadata(cfg, "fine-tune", mnist, None, "shipped", own, own)
    assert meta["own_digits"] == "30 kept digits, each 18x per epoch (augmented); 30 held out"


@pytest.mark.slow  # the quick loop skips it: trains or builds for seconds
@pytest.mark.long  # test_finetune.py holds the recipe to a held-out style on every run
def test_fine_tuning_the_shipped_cnn_on_own_digits_teaches_their_style(mnist):
    import copy

    from mnist_demo.inference import load_shipped_models
    slashed = slashed_zeros(mnist)
    fit, held = slashed.part(slashed.ids < 30), slashed.part(slashed.ids >= 30)
    model = copy.deepcopy(load_shipped_models()["cnn"]).train()
    before = evaluate_digits(model, held)
    events = [e for e in train(model, mnist, PRESETS["fine-tune"], fit, held) if isinstance(e, EpochEvent)]
    assert len(events) == PRESETS["fine-tune"].epochs and all(e.own_held_acc is not None for e in events)
    assert before <= 0.3 and events[-1].own_held_acc >= before + 0.4  # the held-out slashed zeros are now read
    assert events[-1].own_held_acc == evaluate_digits(model, held)
    assert events[-1].valid_acc >= 0.955  # and MNIST is not forgotten (the shipped CNN's recorded valid_acc)


def test_without_own_digits_nothing_is_mixed_in_or_measured(mnist):
    _model, events = run("linear", mnist, SMALL)
    assert all(e.own_held_acc is None for e in events if isinstance(e, EpochEvent))


@pytest.mark.slow  # the quick loop skips it: a subprocess that trains or is killed
@pytest.mark.long  # a whole fine-tune from the command line
def test_cli_fine_tunes_shipped_weights_on_exported_digits(mnist, tmp_path, capsys):
    from mnist_demo.digit_files import write_idx_pair
    images, _labels = write_idx_pair(slashed_zeros(mnist), tmp_path, "mine")
    rc = main(["--model", "cnn", "--preset", "fine-tune", "--init", "shipped", "--own-digits", str(images),
               "--epochs", "1", "--out", str(tmp_path / "out")])
    assert rc == 0
    out = capsys.readouterr().out
    assert "your digits: 30 to train on" in out and "10 held out" in out
    assert "cnn before: your held-out digits" in out and "cnn after: your held-out digits" in out
    model, meta = load_weights(tmp_path / "out" / "cnn.safetensors", expect="cnn")
    assert float(meta["valid_acc"]) > 0.95  # started from the shipped weights, not from scratch
    assert meta["started_from"] == "shipped" and meta["own_digits"].startswith("30 kept digits, each ")
    assert meta["own_digits"].endswith("10 held out") and 0 <= float(meta["own_held_out_acc"]) <= 1
    # --init with --own-digits: the adaptive fine-tune chose, and says what, here and in the file.
    assert "cnn: The adaptive fine-tune" in out and meta["adaptive_fine_tune"] in out
    assert float(meta["valid_acc"]) >= float(meta["adaptive_valid_before"]) - 0.01


def test_cli_refuses_bad_digit_files_and_weights(tmp_path, capsys):
    (tmp_path / "bad.gz").write_bytes(b"nope")
    assert main(["--own-digits", str(tmp_path / "bad.gz"), "--out", str(tmp_path)]) == 1
    assert "bad.gz: not an MNIST IDX file" in capsys.readouterr().err
    assert main(["--model", "cnn", "--init", str(tmp_path / "none.safetensors"), "--out", str(tmp_path)]) == 1
    assert "cannot read" in capsys.readouterr().err
    assert not list(tmp_path.glob("*.safetensors"))


@pytest.mark.slow  # the quick loop skips it: trains or builds for seconds
@pytest.mark.long  # 2 epochs of 50,000 digits
def test_fast_preset_reaches_95_percent_in_two_epochs_from_the_command_line(tmp_path, capsys):
    """The fast recipe's promise, as its help states it. Its speed against the tutorial's loop is
    benchmarks/train_speed.py's job."""
    assert main(["--model", "cnn", "--preset", "fast", "--target-acc", "0.95", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "cnn: reached the 95.00% target" in out and "after 2 epochs" in out
    assert PRESETS["fast"].epochs == 2  # same architecture and data; only the schedule differs
