"""The host's settings, read from a plain mapping as from the environment."""

import pytest

from mnist_demo.classes.store import ClassLimits, limits_from
from mnist_demo.data import PROJECT
from mnist_demo.presets import setting_of
from mnist_demo.settings import from_env


def test_defaults_without_any_variable():
    s = from_env({}, cpus=4)
    assert (s.max_trainings, s.training_threads) == (4, 1)  # one training per CPU
    assert (s.max_epochs, s.max_digits) == (50, setting_of("limit").high)
    assert (s.classify_concurrency, s.queue_size, s.mnist_dir) == (8, 256, None)
    assert s.data_dir == PROJECT / "data"
    assert (s.class_days, s.class_max_drawings, s.class_max_students) == (7, 5000, 100)


def test_every_variable_is_read():
    s = from_env({"MNIST_MAX_TRAININGS": "2", "MNIST_MAX_EPOCHS": "5", "MNIST_MAX_DIGITS": "5000",
                  "MNIST_CLASSIFY_CONCURRENCY": "3", "MNIST_QUEUE_SIZE": "9", "MNIST_DIR": "/m",
                  "MNIST_DATA_DIR": "/d"}, cpus=8)
    assert (s.max_trainings, s.training_threads, s.max_epochs, s.max_digits) == (2, 4, 5, 5000)
    assert (s.classify_concurrency, s.queue_size, s.mnist_dir, str(s.data_dir)) == (3, 9, "/m", "/d")


def test_the_class_caps_are_read_and_become_the_classrooms_limits():
    s = from_env({"MNIST_CLASS_DAYS": "2", "MNIST_CLASS_MAX_DRAWINGS": "50", "MNIST_CLASS_MAX_STUDENTS": "4"}, cpus=1)
    limits = limits_from(s)
    assert (limits.days, limits.max_drawings, limits.max_students) == (2.0, 50, 4)
    assert limits_from(from_env({}, cpus=1)) == ClassLimits()  # the setting's defaults are the classroom's
    with pytest.raises(ValueError, match="MNIST_CLASS_DAYS must be at least 1, got 0"):
        from_env({"MNIST_CLASS_DAYS": "0"}, cpus=1)


def test_caps_are_clamped_to_what_the_trainer_accepts():
    s = from_env({"MNIST_MAX_EPOCHS": "999", "MNIST_MAX_DIGITS": "999999"}, cpus=1)
    assert (s.max_epochs, s.max_digits) == (setting_of("epochs").high, setting_of("limit").high)
    assert from_env({"MNIST_MAX_DIGITS": "10"}, cpus=1).max_digits == 1000  # the slider's first stop
    assert from_env({"MNIST_MAX_TRAININGS": "8"}, cpus=2).training_threads == 1


@pytest.mark.parametrize("name, value, message", [
    ("MNIST_MAX_TRAININGS", "two", "MNIST_MAX_TRAININGS must be a whole number, got 'two'"),
    ("MNIST_QUEUE_SIZE", "-1", "MNIST_QUEUE_SIZE must be at least 1, got -1"),
    ("MNIST_MAX_EPOCHS", "0", "MNIST_MAX_EPOCHS must be at least 1, got 0"),
    ("MNIST_CLASSIFY_CONCURRENCY", "2.5", "MNIST_CLASSIFY_CONCURRENCY must be a whole number, got '2.5'")])
def test_bad_values_name_their_variable(name, value, message):
    with pytest.raises(ValueError) as raised:
        from_env({name: value}, cpus=2)
    assert str(raised.value) == message
