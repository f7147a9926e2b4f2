"""The baseline for benchmarks/stroke_cost.py: Gradio's own Sketchpad with a do-nothing handler
(it only counts strokes), launched like the app: `python -m benchmarks.sketchpad_app --port P`."""

import argparse

import gradio as gr

with gr.Blocks() as demo:
    sketch = gr.Sketchpad(elem_id="sketch", canvas_size=(448, 448), fixed_canvas=True, layers=False,
                          transforms=(), brush=gr.Brush(default_size=26, colors=["#000000"], color_mode="fixed"))
    out = gr.HTML("<p>no strokes yet</p>", elem_id="out")
    count = gr.State(0)
    sketch.change(lambda n: (n + 1, f"<p>stroke {n + 1}</p>"), count, [count, out], trigger_mode="always_last")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--port", type=int, default=7861)
    return p


if __name__ == "__main__":
    demo.launch(server_port=parser().parse_args().port)
