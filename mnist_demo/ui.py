"""The Gradio app: the tabs put together. Each tab's module has its handlers at top level and one
function that lays the tab out and wires its events; this file only orders the tabs, holds the
visitor's session and serves ``/classify``. The page's JavaScript and CSS are in page/."""

from __future__ import annotations

import sys

import gradio as gr
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware

from . import page_assets, page_data
from .classes import page_routes
from .classes.store import Classroom, limits_from
from .classes.student import class_keep_function
from .classes.tab import class_tab, seat_store, wall_view, wire_class
from .handlers import bind
from .inference import Predictor
from .inputs import MAX_PICTURE_BYTES
from .limits import CACHE_SECONDS, app_kwargs, closed_routes, keep_sessions_small, refuse_addresses
from .page_assets import page_file
from .page_data import PageData
from .page_head import FirstScripts
from .pictures import digit_from_picture
from .preprocess import ImageInputError
from .session import Session, close_session, stop_on_tab_close
from .settings import Settings, from_process
from .ui_digits import digits_tab
from .ui_draw import draw_tab
from .ui_inside import inside_tab
from .ui_train import train_tab

INTRO = """
# ✍️ MNIST Draw & Train
Draw a digit (0–9). Two models read it as you draw, right here in your browser: the tutorial's
**linear model** (one weight template per digit) and its small **CNN** (three convolutions). Both
see the same 28×28 picture, prepared the way MNIST's digits were: cropped to the ink, fitted into
20×20 and centred on its centre of mass.
"""


def classify(predictor: Predictor, path: str | None) -> dict:
    """One image file of any size and background in; both models' answers out."""
    if not path:
        raise gr.Error("Send one image file (PNG, JPEG, GIF, WebP, BMP...).")
    try:
        digit = digit_from_picture(path)
    except ImageInputError as e:
        raise gr.Error(str(e)) from None
    if digit is None:
        raise gr.Error("No digit found in the image: it looks blank.")
    return predictor.predict_digit(digit).as_dict()


API_HELP = """
**`/classify`**: one image file of any size and background in (PNG transparency is kept), both
models' answers out as JSON. From Python, with `pip install gradio_client`:

```text
from gradio_client import Client, handle_file

client = Client(URL)  # URL: this page's address, or "user/space-name" on Hugging Face
result = client.predict(handle_file("digit.png"), api_name="/classify")
# {"linear": {"label": 7, "probabilities": [10 floats]},
#  "cnn":    {"label": 7, "probabilities": [10 floats]},
#  "agree": true}
```

A file that is not a picture, or a blank one, gets an error with a sentence saying why. Or try it here:
"""


def api_tab(predictor: Predictor, settings: Settings) -> None:
    gr.Markdown(API_HELP, elem_id="api-help")
    api_file = gr.File(label="Image", file_types=["image"], type="filepath")
    api_button = gr.Button("Classify")
    api_json = gr.JSON(label="Result")
    refuse_addresses(api_file)  # a URL sent as the file: a sentence, and nothing fetched
    api_button.click(bind(classify, predictor), api_file, api_json, api_name="classify",
                     concurrency_limit=settings.classify_concurrency)


def build_demo(predictor: Predictor | None = None, settings: Settings | None = None,
               classroom: Classroom | None = None) -> gr.Blocks:
    predictor = predictor or Predictor()
    settings = settings or from_process()  # app.py passes its own; built once either way
    mnist = settings.mnist  # every handler that needs MNIST loads it from here
    classroom = classroom or Classroom(settings.data_dir, limits_from(settings))
    shipped = predictor.models
    # Gradio's copies of the files it served (weight downloads) are removed after an hour.
    with gr.Blocks(title="MNIST Draw & Train", delete_cache=(CACHE_SECONDS, CACHE_SECONDS)) as demo:
        # Per browser session; when the session ends, its training stops and its files go.
        session = gr.State(Session(), delete_callback=close_session)
        with gr.Column(elem_id="app-view"):  # everything but the projector wall
            gr.Markdown(INTRO, elem_id="intro")
            with gr.Tabs():
                with gr.Tab("Draw", id="draw"):
                    draw = draw_tab(predictor, session, class_keep_function(classroom, predictor), mnist)
                with gr.Tab("Your digits", id="digits", elem_id="digits-tab") as tab:
                    digits_tab(tab, draw, session, shipped, mnist)
                with gr.Tab("Class", id="class", elem_id="class-tab"):
                    class_parts = class_tab(settings)
                with gr.Tab("Train", id="train"):
                    train_tab(session, settings, shipped, draw)
                with gr.Tab("Look inside", id="inside", elem_id="inside-tab") as tab:
                    inside_tab(tab, draw, session, shipped, mnist)
                with gr.Tab("API", id="api"):
                    api_tab(predictor, settings)
        wall_parts = wall_view()
        # Which class this browser is in (or teaches): a reload or a restarted server finds it again.
        # Last, so that it shifts nothing on a phone's one screen.
        stored = seat_store()
        wire_class(classroom, predictor, settings, session, stored, draw, class_parts, wall_parts)
        demo.unload(stop_on_tab_close)
    demo.page_data = PageData(mnist, settings.data_dir)  # MNIST for the page's training (page_data.routes)
    demo.class_page = page_routes.ClassPageRoutes(classroom)  # the teacher's page trains the class's model
    keep_sessions_small(demo)  # a gallery or any large output is not kept with every idle session
    return demo


# Gradio's default theme, with text and buttons that meet WCAG AA contrast (4.5:1) in both modes:
# its softer text (zinc 400 on white, 1.9:1) and its orange buttons (white on orange 500, 2.8:1)
# fail it, and a projector washes out whatever is faint.
THEME = gr.themes.Default().set(
    body_text_color_subdued="*neutral_600", body_text_color_subdued_dark="*neutral_400",
    button_primary_background_fill="*primary_700", button_primary_background_fill_dark="*primary_700",
    button_primary_background_fill_hover="*primary_800", button_primary_background_fill_hover_dark="*primary_800",
    button_cancel_background_fill="*error_700", button_cancel_background_fill_hover="*error_800",
    color_accent="*primary_700",  # the chosen tab's name, among others
)
# Sessions Gradio keeps in memory, least recently used dropped first: each holds a copy of the app's
# configuration (~200 kB) and its last outputs, and any client can make new ones (a session hash is
# whatever it sends), so Gradio's 10,000 cost 2 GB. Nothing rests on a session surviving: the page
# sends what an event needs (its digits and weights, pad.js restore(); its class seat, tab.seat_echo).
SESSIONS = 1000
# app_kwargs: request bodies over each route's limit get HTTP 413 before Gradio parses them; the
# page's scripts (page_assets.py), its training data's routes (page_data.py) and the teacher's
# page's (classes/page_routes.py) come before Gradio's own, behind the same middleware.
ROUTES = [*page_assets.routes(), *page_data.routes(), *page_routes.routes(), *closed_routes()]
# Gradio sends its page (348 kB, the app's configuration inside) uncompressed: 30 phones on a school's
# Wi-Fi each load it. Compressed (level 6: 110 kB, 8 ms), behind the body limit; Starlette leaves
# event streams, pictures and the training data's gzip files as they are.
COMPRESSED = Middleware(GZipMiddleware, minimum_size=1024, compresslevel=6)


def launch_options(**limits) -> dict:
    """``launch()``'s options for this app: its theme and styles, its limits and routes; ``limits``
    go to ``limits.app_kwargs`` (the attack benchmark's other upload cap, say). Inside the
    compression, the scripts that must run before Gradio's own (page_head.py)."""
    middleware = [*app_kwargs(**limits)["middleware"], COMPRESSED, Middleware(FirstScripts)]
    return dict(theme=THEME, css=page_file("app.css"), max_file_size=MAX_PICTURE_BYTES, mcp_server=False,
                enable_monitoring=False, show_error=False, state_session_capacity=SESSIONS,
                app_kwargs={"middleware": middleware, "routes": ROUTES})


LAUNCH_OPTIONS = launch_options()


# Gradio's queue looks for work every millisecond while it has none, and for progress to send every
# 10 ms (queueing.Queue's sleep_when_free and progress_update_sleep_when_free off Windows; no public
# setting): an idle server here spent 57 ms of CPU a second on them, 6 % of a core for as long as it
# runs (a free Space's and a school laptop's CPU), and most of the server's share while a page
# trains. Every 10 ms and 50 ms instead: a queued event starts at most 9 ms later, and a training's
# progress goes out at most 20 times a second (the Train tab sends 4).
QUEUE_POLL_SECONDS, PROGRESS_POLL_SECONDS = 0.01, 0.05
# After every event, Gradio's queue also rebuilds the summary behind its monitoring dashboard: a pandas
# DataFrame of the last 10,000 events, grouped by function (2.4 ms of CPU at 100 events, 8.7 ms at
# 10,000), though this app turns the dashboard off (enable_monitoring=False). A class's events are
# small (a keep 7-15 ms, a timer's tick less), so that was a quarter of a class's server CPU
# (benchmarks/class_load.py). The queue's attributes that GRADIO_ANALYTICS_CACHE_FREQUENCY and
# _MAX_EVENTS set (no public setting): never rebuilt, and one event remembered, not 10,000 (4 MB).
ANALYTICS = {"ANAYLTICS_CACHE_FREQUENCY": sys.maxsize, "ANALYTICS_MAX_EVENTS": 1}  # (Gradio's spelling)


def queued(demo: gr.Blocks, settings: Settings) -> gr.Blocks:
    """``demo`` with this app's queue (queue_options), polled as said above, with no monitoring summary."""
    demo.queue(**queue_options(settings))
    queue = demo._queue
    for name, seconds in (("sleep_when_free", QUEUE_POLL_SECONDS),
                          ("progress_update_sleep_when_free", PROGRESS_POLL_SECONDS)):
        if getattr(queue, name, None) is not None:  # a later Gradio may have renamed it (tests/test_ui.py)
            setattr(queue, name, max(getattr(queue, name), seconds))
    for name, value in ANALYTICS.items():  # (launch_options turns the dashboard off)
        if getattr(queue, name, None) is not None:
            setattr(queue, name, value)
    return demo


def queue_options(settings: Settings) -> dict:
    """max_size: requests waiting beyond it are refused at once with Gradio's "queue is full".
    api_open=False: /gradio_api/run/* and /api/* refuse our events (all queued) instead of running
    them outside the queue and its limits; gradio_client goes through the queue and is unaffected."""
    return dict(max_size=settings.queue_size, api_open=False)
