"""mnist_demo/gradio_stubs.py: importing the package first makes Gradio skip rewriting its type
stubs, and Gradio still builds an app (in a fresh process, as the app starts); a Gradio imported
before it, or one without that writer, is left alone."""

import subprocess
import sys
import types
from pathlib import Path

from mnist_demo import gradio_stubs

REPO = Path(__file__).resolve().parents[1]

AFTER = """
import sys
import mnist_demo, gradio as gr, gradio.component_meta as meta
from mnist_demo import gradio_stubs
assert meta.create_or_modify_pyi is gradio_stubs.skip, meta.create_or_modify_pyi
assert not any(isinstance(f, gradio_stubs._Finder) for f in sys.meta_path), sys.meta_path  # gone once used
with gr.Blocks() as demo:  # component classes still made whole: their events, a config
    button, out = gr.Button("Go"), gr.Textbox()
    button.click(lambda: "done", None, out)
assert demo.fns and demo.get_config_file()["components"]
print("ok")
"""


def run(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.strip()


def test_the_package_first_skips_gradios_stub_writer_and_gradio_still_builds_an_app():
    assert run(AFTER) == "ok"


def test_gradio_imported_first_is_left_alone(monkeypatch):
    monkeypatch.setattr(sys, "meta_path", list(sys.meta_path))
    gradio_stubs.remove()
    monkeypatch.setitem(sys.modules, gradio_stubs.MODULE, types.ModuleType(gradio_stubs.MODULE))
    gradio_stubs.install()
    assert not any(isinstance(f, gradio_stubs._Finder) for f in sys.meta_path)
    monkeypatch.delitem(sys.modules, gradio_stubs.MODULE)
    gradio_stubs.install()  # (the control: not yet imported, the finder goes first)
    assert isinstance(sys.meta_path[0], gradio_stubs._Finder)


def test_a_gradio_without_the_writer_is_left_as_it_is():
    later = types.SimpleNamespace(other=len)
    gradio_stubs.quiet(later)
    assert vars(later) == {"other": len}
    ours = types.SimpleNamespace(create_or_modify_pyi=len)
    gradio_stubs.quiet(ours)
    assert ours.create_or_modify_pyi is gradio_stubs.skip
