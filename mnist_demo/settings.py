"""The host's settings, read from environment variables in one place (docs/settings.md lists
them): this module is the only one in the package that reads the environment
(tests/test_settings.py holds every other to it). ``from_process()`` is called once where the app
or a command line is built, and what it gives is passed down; tests pass a plain dict to
``from_env``."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from .data import DEFAULT_DATA_DIR, MnistSource
from .presets import setting_of

MIN_DIGITS_CAP = 1000  # the Train tab's digits slider steps in thousands
EVERY_INTERFACE = ("0.0.0.0", "::")  # a host that serves the other machines on the network


def usable_cpus() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


@dataclass(frozen=True)
class Settings:
    cpus: int
    max_trainings: int  # trainings at once across all sessions; the rest wait in the queue
    max_epochs: int  # per training, for every visitor
    max_digits: int  # training digits per training, for every visitor
    classify_concurrency: int  # /classify requests handled at once
    queue_size: int  # requests waiting beyond this are refused with Gradio's "queue is full"
    max_waiting_trainings: int  # trainings waiting for a slot, all sessions together: the queue keeps room
    mnist_dir: str | None  # the four MNIST IDX files; None: download from OpenML
    data_dir: Path  # the app's own files (kept out of git): classes.sqlite3 for classes
    class_days: int = 7  # a class and everything in it is deleted this many days after it was started
    class_max_drawings: int = 5000  # per class
    class_max_students: int = 100  # per class
    host: str = "127.0.0.1"  # the address the app listens on (app.py's --host wins over it)
    port: int = 7860  # and its port (app.py's --port)
    zero_gpu: bool = False  # on a Hugging Face ZeroGPU Space (gpu.py lends each training its GPU)
    # Proxies in front of the app whose X-Forwarded-For is trusted (classes/addresses.client_of): 0
    # reads the connection's address and ignores the header, which any client can set.
    proxy_hops: int = 0
    class_starts_per_hour: int = 10  # classes one client (address) may start in an hour
    # Whether the server trains for visitors ("Train on: The server", /train, the server's class
    # training); off, every training runs in the visitors' own browsers (the command line still trains).
    server_training: bool = True

    @property
    def serving_lan(self) -> bool:
        """The app serves every network interface (a laptop serving its class): a class's join link
        then uses this machine's network address, not the "localhost" its teacher opened it at."""
        return self.host in EVERY_INTERFACE

    @property
    def mnist(self) -> MnistSource:
        """Where MNIST is loaded from; its decoded files are kept beside the classes' database."""
        return MnistSource(self.mnist_dir, self.data_dir)

    @property
    def training_threads(self) -> int:
        """torch's threads per training. Measured on 2 CPUs (benchmarks/concurrent_training.py):
        two trainings with one thread each train 1.23x the digits per second of one training with
        two threads, while two trainings sharing two threads each collapse to 0.35x. So the CPUs
        are shared out between the trainings that may run at once."""
        return max(1, self.cpus // self.max_trainings)


def whole_number(environ: Mapping[str, str], name: str, default: int, least: int = 1) -> int:
    """An environment variable as a whole number of at least ``least``, or a ValueError that names it."""
    text = environ.get(name)
    if text is None or not text.strip():
        return default
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"{name} must be a whole number, got {text!r}") from None
    if value < least:
        raise ValueError(f"{name} must be {'at least 1' if least == 1 else f'{least} or more'}, got {value}")
    return value


def yes_or_no(environ: Mapping[str, str], name: str, default: bool) -> bool:
    """An environment variable as on or off (1/0, true/false, yes/no, on/off), or a ValueError that names it."""
    text = (environ.get(name) or "").strip().lower()
    if not text:
        return default
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"{name} must be 1 or 0 (on or off), got {environ.get(name)!r}")


def zero_gpu_flag(environ: Mapping[str, str]) -> bool:
    """True on a ZeroGPU Space: the test the `spaces` package itself makes (spaces/config.py)."""
    return environ.get("SPACES_ZERO_GPU", "").lower() in ("1", "t", "true")


def from_env(environ: Mapping[str, str], cpus: int | None = None) -> Settings:
    """The settings a host gave in ``environ``; the caps on epochs and digits are clamped to what
    the trainer itself accepts (TrainConfig's bounds)."""
    cpus = cpus or usable_cpus()
    epochs, limit = setting_of("epochs"), setting_of("limit")
    max_epochs = min(whole_number(environ, "MNIST_MAX_EPOCHS", 50), int(epochs.high))
    max_digits = min(whole_number(environ, "MNIST_MAX_DIGITS", int(limit.high)), int(limit.high))
    # A class of 60 reloading at once (Gradio reloads its pages after a restart) sends a few events
    # each: 64 places refused some of them (benchmarks/class_load.py).
    queue_size = max(2, whole_number(environ, "MNIST_QUEUE_SIZE", 256))
    return Settings(
        cpus=cpus,
        max_trainings=whole_number(environ, "MNIST_MAX_TRAININGS", cpus),
        max_epochs=max_epochs,
        max_digits=max(MIN_DIGITS_CAP, max_digits),
        classify_concurrency=whole_number(environ, "MNIST_CLASSIFY_CONCURRENCY", 8),
        queue_size=queue_size,
        max_waiting_trainings=min(whole_number(environ, "MNIST_MAX_WAITING_TRAININGS", 16), queue_size // 2),
        mnist_dir=environ.get("MNIST_DIR") or None,
        data_dir=Path(environ.get("MNIST_DATA_DIR") or DEFAULT_DATA_DIR),
        class_days=whole_number(environ, "MNIST_CLASS_DAYS", Settings.class_days),
        class_max_drawings=whole_number(environ, "MNIST_CLASS_MAX_DRAWINGS", Settings.class_max_drawings),
        class_max_students=whole_number(environ, "MNIST_CLASS_MAX_STUDENTS", Settings.class_max_students),
        # Gradio's own variables: app.py's --host and --port default to them, and a Space sets them.
        host=environ.get("GRADIO_SERVER_NAME") or Settings.host,
        port=whole_number(environ, "GRADIO_SERVER_PORT", Settings.port),
        zero_gpu=zero_gpu_flag(environ),
        proxy_hops=whole_number(environ, "MNIST_TRUSTED_PROXY_HOPS", Settings.proxy_hops, least=0),
        class_starts_per_hour=whole_number(environ, "MNIST_CLASS_STARTS_PER_HOUR", Settings.class_starts_per_hour),
        server_training=yes_or_no(environ, "MNIST_SERVER_TRAINING", Settings.server_training),
    )


def from_process(cpus: int | None = None) -> Settings:
    """The settings this process was started with: the one read of ``os.environ`` in the package."""
    return from_env(os.environ, cpus)
