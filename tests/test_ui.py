"""ui.py's queue: Gradio's, polled less often while it has nothing to do, with no monitoring summary (ui.queued)."""

import gradio as gr
import pandas as pd

from mnist_demo.settings import from_env
from mnist_demo.ui import PROGRESS_POLL_SECONDS, QUEUE_POLL_SECONDS, launch_options, queue_options, queued


def test_the_queue_keeps_its_options_and_polls_every_10_ms_not_every_1(tmp_path):
    """Gradio's own polls cost an idle server here 57 ms of CPU a second. A Gradio that renames
    the two attributes fails here, rather than quietly polling every millisecond again."""
    settings = from_env({"MNIST_DATA_DIR": str(tmp_path)})
    with gr.Blocks() as demo:
        gr.Markdown("x")
    assert gr.Blocks().queue()._queue.sleep_when_free < QUEUE_POLL_SECONDS  # Gradio's own, which this changes
    queue = queued(demo, settings)._queue
    assert (queue.sleep_when_free, queue.progress_update_sleep_when_free) == (QUEUE_POLL_SECONDS,
                                                                             PROGRESS_POLL_SECONDS)
    assert queue.max_size == queue_options(settings)["max_size"] and demo.api_open is False


def test_the_queue_builds_no_monitoring_summary_after_each_event(tmp_path, monkeypatch):
    """Gradio's queue rebuilt a pandas summary of its last 10,000 events after every event, for a
    dashboard this app turns off: a quarter of a class's server CPU. A Gradio that renames the
    attributes fails here."""
    from gradio.queueing import Queue

    def summarised(queue) -> bool:
        built = []
        monkeypatch.setattr(Queue, "_get_df", staticmethod(lambda records: built.append(records) or
                                                            pd.DataFrame(records)))
        record = {"time": 0.0, "status": "success", "process_time": 0.01, "function": "keep", "session_hash": "s"}
        for _ in range(3):
            queue.events_recorded += 1  # as the queue counts an event, then summarises after it
            queue.compute_analytics_summary([record] * 100)
        return bool(built)

    assert summarised(gr.Blocks().queue()._queue)  # Gradio's own: after every event
    with gr.Blocks() as demo:
        gr.Markdown("x")
    queue = queued(demo, from_env({"MNIST_DATA_DIR": str(tmp_path)}))._queue
    assert not summarised(queue) and queue.ANALYTICS_MAX_EVENTS == 1
    assert launch_options()["enable_monitoring"] is False  # (nothing reads the summary)


def test_the_app_has_no_component_that_loads_a_media_player(tmp_path):
    """Every page loads the scripts of every kind of component the app has. A gr.Gallery brought
    Gradio's video player and hls.js (a third of a page load's scripts, 509 kB decoded) for one
    view of a training's mistakes, and a gr.Image wrapped Look inside's pictures in nameless
    buttons: both are HTML now (ui_evaluation.mistakes_html, ui_inside.picture_html)."""
    from mnist_demo.ui import build_demo

    demo = build_demo(settings=from_env({"MNIST_DATA_DIR": str(tmp_path)}))
    kinds = {block.get_block_name() for block in demo.blocks.values()}
    assert {"html", "markdown", "button"} <= kinds  # what the app is made of (the test reads them)
    assert kinds.isdisjoint({"gallery", "video", "image", "audio", "model3d"}), kinds
