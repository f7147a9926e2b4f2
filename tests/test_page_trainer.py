"""page_trainer: where a training runs, and what a page's trainer is told, without Gradio (the
teacher's page's route reads it too)."""

import subprocess
import sys
from pathlib import Path

from mnist_demo.page_trainer import DEVICE, SERVER, VALID_EVERY, trainer_setup, where_choices
from mnist_demo.settings import from_env

REPO = Path(__file__).resolve().parents[1]


def test_it_and_the_teacher_pages_routes_load_without_gradio():
    """The teacher's page's routes (plain HTTP) read this module, and need no Gradio (2 s to import).
    Both in one fresh process (each starts torch): if either brought Gradio, it would be there."""
    modules = "mnist_demo.page_trainer, mnist_demo.classes.page_routes"
    done = subprocess.run([sys.executable, "-c", f"import sys, {modules}; print('gradio' in sys.modules)"],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


def test_the_trainer_is_told_this_hosts_choices():
    for env, choices in (({}, [DEVICE, SERVER]), ({"MNIST_SERVER_TRAINING": "0"}, [DEVICE])):
        settings = from_env(env)
        setup = trainer_setup(settings)
        assert where_choices(settings) == choices
        assert setup["server_training"] is (SERVER in choices)
        assert (setup["where_device"], setup["where_server"], setup["valid_every"]) == (DEVICE, SERVER, VALID_EVERY)
        assert setup["worker_scripts"][-1].endswith("/train_worker.js")
