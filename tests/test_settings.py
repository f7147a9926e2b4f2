"""The host's settings, read from a plain mapping as from the environment."""

import ast
import dataclasses
import re
from pathlib import Path

import pytest

from mnist_demo.classes.store import ClassLimits, limits_from
from mnist_demo.data import PROJECT, MnistSource
from mnist_demo.presets import setting_of
from mnist_demo.settings import from_env, from_process


def test_defaults_without_any_variable():
    s = from_env({}, cpus=4)
    assert (s.max_trainings, s.training_threads) == (4, 1)  # one training per CPU
    assert (s.max_epochs, s.max_digits) == (50, setting_of("limit").high)
    assert (s.classify_concurrency, s.queue_size, s.mnist_dir) == (8, 256, None)
    assert s.data_dir == PROJECT / "data"
    assert (s.class_days, s.class_max_drawings, s.class_max_students) == (7, 5000, 100)
    assert s.server_training is True


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


def test_proxy_hops_and_class_starts_are_read_and_reach_the_classroom():
    """Issue 27: X-Forwarded-For is trusted only for the hops the host names (0 by default, as any
    client can send it); the classes one client may start in an hour."""
    s = from_env({}, cpus=1)
    assert (s.proxy_hops, s.class_starts_per_hour) == (0, 10)
    s = from_env({"MNIST_TRUSTED_PROXY_HOPS": "1", "MNIST_CLASS_STARTS_PER_HOUR": "3"}, cpus=1)
    limits = limits_from(s)
    assert (limits.proxy_hops, limits.classes_per_client_per_hour) == (1, 3)
    with pytest.raises(ValueError, match="MNIST_TRUSTED_PROXY_HOPS must be 0 or more, got -1"):
        from_env({"MNIST_TRUSTED_PROXY_HOPS": "-1"}, cpus=1)
    text = (PROJECT / "docs" / "settings.md").read_text()
    assert "| `MNIST_TRUSTED_PROXY_HOPS` | `0` |" in text and "| `MNIST_CLASS_STARTS_PER_HOUR` | `10` |" in text


def test_caps_are_clamped_to_what_the_trainer_accepts():
    s = from_env({"MNIST_MAX_EPOCHS": "999", "MNIST_MAX_DIGITS": "999999"}, cpus=1)
    assert (s.max_epochs, s.max_digits) == (setting_of("epochs").high, setting_of("limit").high)
    assert from_env({"MNIST_MAX_DIGITS": "10"}, cpus=1).max_digits == 1000  # the slider's first stop
    assert from_env({"MNIST_MAX_TRAININGS": "8"}, cpus=2).training_threads == 1


def test_a_host_may_keep_the_server_from_training():
    for text, on in (("0", False), ("off", False), ("False", False), ("1", True), ("yes", True), ("", True)):
        assert from_env({"MNIST_SERVER_TRAINING": text}, cpus=2).server_training is on, text


@pytest.mark.parametrize("name, value, message", [
    ("MNIST_MAX_TRAININGS", "two", "MNIST_MAX_TRAININGS must be a whole number, got 'two'"),
    ("MNIST_QUEUE_SIZE", "-1", "MNIST_QUEUE_SIZE must be at least 1, got -1"),
    ("MNIST_MAX_EPOCHS", "0", "MNIST_MAX_EPOCHS must be at least 1, got 0"),
    ("MNIST_CLASSIFY_CONCURRENCY", "2.5", "MNIST_CLASSIFY_CONCURRENCY must be a whole number, got '2.5'"),
    ("MNIST_SERVER_TRAINING", "maybe", "MNIST_SERVER_TRAINING must be 1 or 0 (on or off), got 'maybe'")])
def test_bad_values_name_their_variable(name, value, message):
    with pytest.raises(ValueError) as raised:
        from_env({name: value}, cpus=2)
    assert str(raised.value) == message


def test_the_server_address_the_zerogpu_flag_and_where_mnist_is():
    s = from_env({}, cpus=1)
    assert (s.host, s.port, s.serving_lan, s.zero_gpu) == ("127.0.0.1", 7860, False, False)
    assert s.mnist == MnistSource(None, PROJECT / "data")  # OpenML, its decoded files kept in data/
    s = from_env({"GRADIO_SERVER_NAME": "0.0.0.0", "GRADIO_SERVER_PORT": "8000", "SPACES_ZERO_GPU": "true",
                  "MNIST_DIR": "/m", "MNIST_DATA_DIR": "/d"}, cpus=1)
    assert (s.host, s.port, s.serving_lan, s.zero_gpu) == ("0.0.0.0", 8000, True, True)
    assert s.mnist == MnistSource("/m", Path("/d"))  # the cache follows the classes' folder
    assert from_env({"GRADIO_SERVER_NAME": "::"}, cpus=1).serving_lan
    assert not from_env({"SPACES_ZERO_GPU": "0"}, cpus=1).zero_gpu
    # app.py's --host wins over GRADIO_SERVER_NAME, and serving the LAN follows it
    assert dataclasses.replace(s, host="127.0.0.1").serving_lan is False
    with pytest.raises(ValueError, match="GRADIO_SERVER_PORT must be a whole number, got 'http'"):
        from_env({"GRADIO_SERVER_PORT": "http"}, cpus=1)


def test_from_process_reads_this_processs_environment(monkeypatch):
    monkeypatch.setenv("MNIST_MAX_EPOCHS", "3")
    monkeypatch.setenv("GRADIO_SERVER_NAME", "0.0.0.0")
    s = from_process(cpus=1)
    assert (s.max_epochs, s.serving_lan) == (3, True)




def environment_reads(path: Path) -> list[str]:
    """Where a module mentions os.environ / os.getenv (or imports them from os), as line numbers."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "os" \
                and node.attr in ("environ", "environb", "getenv", "getenvb", "putenv", "unsetenv"):
            found.append(f"{path.name}:{node.lineno} os.{node.attr}")
        elif isinstance(node, ast.ImportFrom) and node.module == "os" \
                and any(alias.name.startswith(("environ", "getenv")) for alias in node.names):
            found.append(f"{path.name}:{node.lineno} from os import")
    return found


def test_only_settings_reads_the_environment():
    """One settings surface: every other module gets what the host set from a Settings."""
    package = PROJECT / "mnist_demo"
    modules = [p for p in package.rglob("*.py") if p.name != "settings.py"]
    assert len(modules) > 20
    assert [hit for p in modules for hit in environment_reads(p)] == []
    assert environment_reads(package / "settings.py")  # the check itself sees a read


def test_serving_the_lan_is_a_setting_not_something_app_py_sets():
    app = (PROJECT / "app.py").read_text()
    assert "SERVING_LAN" not in app and "os.environ" not in app and "getenv" not in app


def test_one_table_lists_every_variable_settings_reads():
    """docs/settings.md holds the one table of the environment variables, every one settings.py
    reads; the README links to it instead of repeating it."""
    read = set(re.findall(r'"((?:MNIST|GRADIO|SPACES)_[A-Z_]+)"', (PROJECT / "mnist_demo" / "settings.py").read_text()))
    table = set(re.findall(r"^\| `([A-Z_]+)` \|", (PROJECT / "docs" / "settings.md").read_text(), re.M))
    assert len(read) >= 14 and read == table
    assert not re.search(r"^\| `(MNIST|GRADIO)_", (PROJECT / "README.md").read_text(), re.M)
