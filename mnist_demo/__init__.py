"""MNIST Draw & Train. Importing the package first makes Gradio's later import skip rewriting its
own type stubs, a third of its import time (mnist_demo/gradio_stubs.py)."""

from mnist_demo import gradio_stubs

gradio_stubs.install()
