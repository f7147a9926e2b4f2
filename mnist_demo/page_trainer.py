"""Where a training runs, and what the page's trainers are told.

A training runs on the visitor's own device by default (page/page_trainer.js, in Web Workers), or
on this server where the host allows it (``Settings.server_training``, MNIST_SERVER_TRAINING; on
ZeroGPU within the visitor's GPU quota, gpu.py). The Train tab's Start and /train (ui_train.py) and
the teacher's "Train on our class" (classes/tab.py) ask the same questions here; the Train tab's
trainer is sent ``trainer_setup`` inside its page, the teacher's from its own route
(classes/page_routes.py). No Gradio here: the routes need none.
"""

from __future__ import annotations

from .driver import START_FROM
from .finetune import MAX_MNIST_LOSS
from .page_assets import page_setup, worker_scripts
from .page_data import ROUTE
from .settings import Settings

# The choices of #train-where and #class-train-where.
DEVICE, SERVER = "This device", "The server"
# The host's choice, said to whoever asks it to train (Start, /train, "Train on our class").
NO_SERVER_TRAINING = "This server does not train models: choose “{device}”, where your browser trains them."
# Web Workers per in-page training at most: past a few, summing their gradients costs what they save.
PAGE_WORKERS_CAP = 8
VALID_EVERY = 10  # the page measures each epoch on every 10th validation digit (2,000): seconds, not tens
# Start reached the server although "This device" was chosen: the page's trainer (which answers that
# Start in the page) had not loaded yet. Training here instead would go against the visitor's choice.
NOT_READY = ("This page's trainer has not loaded yet, so nothing started: press Start again in a moment, or "
             "reload the page.")
OR_SERVER = " To train on this app's computer instead, choose “{server}” above."


def where_choices(settings: Settings) -> list[str]:
    """Where a training may run: this device, and the server where this host offers it."""
    return [DEVICE, SERVER] if settings.server_training else [DEVICE]


def not_ready(settings: Settings) -> str:
    """NOT_READY, and the other choice where this host offers it."""
    return NOT_READY + (OR_SERVER.format(server=SERVER) if settings.server_training else "")


def not_on_server(settings: Settings, where: str) -> str | None:
    """Why a training that reached the server is not the server's to run, before any place in the
    line (the Train tab's Start and /train, and "Train on our class"), or None: "This device" was
    chosen (the page's trainer had not loaded), or this host keeps its server from training."""
    if where == DEVICE:
        return not_ready(settings)
    return None if settings.server_training else NO_SERVER_TRAINING.format(device=DEVICE)


def trainer_setup(settings: Settings) -> dict:
    """What a page's trainer is told: page_setup's shared values, the worker's scripts, where the
    data files are, and what this host allows."""
    return page_setup() | {
        "worker_scripts": worker_scripts(), "data_manifest": f"{ROUTE}/manifest.json",
        "valid_every": VALID_EVERY, "max_workers": PAGE_WORKERS_CAP, "serving_lan": settings.serving_lan,
        "server_training": settings.server_training, "where_device": DEVICE, "where_server": SERVER,
        "mnist_budget": MAX_MNIST_LOSS,  # a fine-tune on own digits loses at most this of MNIST (finetune.py)
        "start_from": dict(zip(("new", "shipped", "mine"), START_FROM, strict=True)),  # #train-start-from's values
    }
