"""The baseline for benchmarks/load.py: a `/classify` that takes the same file and does no work,
launched with the app's own queue and launch options: `python -m benchmarks.noop_app --port P`."""

import argparse
import os

import gradio as gr

from mnist_demo.settings import from_env
from mnist_demo.ui import LAUNCH_OPTIONS, queued

SETTINGS = from_env(os.environ)

ANSWER = {"linear": {"label": 7, "probabilities": [0.1] * 10}, "cnn": {"label": 7, "probabilities": [0.1] * 10},
          "agree": True}  # the same shape and size as the app's answer

with gr.Blocks() as demo:
    f, j, b = gr.File(type="filepath"), gr.JSON(), gr.Button()
    b.click(lambda path: ANSWER, f, j, api_name="classify", concurrency_limit=SETTINGS.classify_concurrency)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--port", type=int, default=7862)
    return p


if __name__ == "__main__":
    queued(demo, SETTINGS).launch(server_port=parser().parse_args().port, **LAUNCH_OPTIONS)
