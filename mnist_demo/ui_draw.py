"""The Draw tab: a drawing pad of our own (a ``gr.HTML`` with its JavaScript and CSS in
``page/``) whose answers are computed in the page itself.

The page runs ``page/recipe.js`` (the MNIST recipe of ``preprocess.py``) and ``page/models.js``
(both forward passes), fed by the chosen weights as safetensors bytes (``page/weights.js``).
Nothing reaches the server while drawing. Python only sends the weights (on load, and when the
visitor switches to their own), reads pictures, and answers through ``read_digit`` when the
page cannot run the models itself.
"""

from __future__ import annotations

import base64
import binascii
import io
import math

import gradio as gr
import numpy as np
from PIL import Image, UnidentifiedImageError

from .inference import Predictor
from .models import MODEL_NAMES, MODEL_TITLES
from .page_assets import PAGE as PAGE  # "as": re-exported, as ui.py, ui_digits.py and tests import them from here
from .page_assets import SHIPPED, page_head, page_setup, page_weights
from .page_assets import model_shapes as model_shapes
from .page_assets import page_file as page_file
from .preprocess import FIELD, MAX_SIDE, ImageInputError, preprocess
from .weights import WeightsError, weights_from_bytes

MAX_PICTURE_BYTES = 10 * 1024 * 1024  # as the uploads' max_file_size
MINE = "my trained weights"


# ---------------------------------------------------------------------------- reading input


def open_image(source: str | bytes) -> Image.Image:
    """A file path or the bytes of a picture as a PIL image (its first frame if animated)."""
    try:
        with Image.open(io.BytesIO(source) if isinstance(source, bytes) else source) as img:
            if img.format == "JPEG":  # decoded at 1/2, 1/4 or 1/8 scale (DCT scaling): big photos cost little
                img.draft(img.mode, (MAX_SIDE, MAX_SIDE))
            img.load()
            return img.copy()
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as e:
        raise ImageInputError(f"Could not read the file as an image ({type(e).__name__}).") from None


def bytes_from_data_url(url) -> bytes:
    """``data:image/...;base64,...`` (what the page's FileReader and canvas.toDataURL give) as bytes."""
    if not isinstance(url, str) or not url.startswith("data:") or ";base64," not in url[:100]:
        raise ImageInputError("Expected a picture as a base64 data URL.")
    payload = url.split(",", 1)[1]
    if len(payload) > math.ceil(MAX_PICTURE_BYTES / 3) * 4:
        raise ImageInputError(f"The picture is larger than {MAX_PICTURE_BYTES // 2**20} MB.")
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise ImageInputError("The picture's base64 data is damaged.") from None


def digit_from_page(value) -> np.ndarray | None:
    """The page's 28x28 (784 numbers in [0, 1], row-major) as an array; None when nothing is drawn."""
    if value is None:
        return None
    try:
        digit = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ImageInputError("Expected the drawing as 784 numbers.") from None
    if digit.shape != (FIELD * FIELD,) or not np.isfinite(digit).all() or digit.min() < 0 or digit.max() > 1:
        raise ImageInputError("Expected the drawing as 784 numbers between 0 and 1.")
    return digit.astype(np.float32).reshape(FIELD, FIELD)


def models_from_page(weights: dict, shipped: dict) -> dict:
    """For each model, "shipped" or the page's own safetensors bytes (base64), validated as any file."""
    if not isinstance(weights, dict) or set(weights) != set(MODEL_NAMES):
        raise WeightsError(f"Expected weights for {', '.join(MODEL_NAMES)}.")
    models = {}
    for name, choice in weights.items():
        if choice == SHIPPED:
            models[name] = shipped[name]
            continue
        source = f"your {name} weights"
        try:
            blob = base64.b64decode(str(choice), validate=True)
        except (binascii.Error, ValueError):
            raise WeightsError(f"{source} are damaged") from None
        model, meta = weights_from_bytes(blob, source=source)
        if meta["model"] != name:
            raise WeightsError(f"{source} hold the {meta['model']} model")
        models[name] = model
    return models


def read_digit_for(predictor: Predictor):
    """The pad's server function. ``read_digit`` is its name in the page (``server.read_digit``)."""

    def read_digit(data) -> dict:
        """{"image": data URL} or {"digit": 784 numbers}, plus "weights" when the page wants the
        answers too. Returns {"digit", "answers"} or {"error": a sentence for the visitor}."""
        try:
            if not isinstance(data, dict):
                raise ImageInputError("Expected an object with an image or a digit.")
            if "image" in data:
                digit = preprocess(open_image(bytes_from_data_url(data["image"])))
                if digit is None:
                    return {"error": "No digit found in the picture: it looks blank."}
            else:
                digit = digit_from_page(data.get("digit"))
                if digit is None:
                    return {"error": "Nothing is drawn."}
            answers = None
            if data.get("weights") is not None:
                models = models_from_page(data["weights"], predictor.models)
                answers = Predictor(models).predict_digit(digit).as_dict()
            return {"digit": digit.reshape(-1).tolist(), "answers": answers}
        except (ImageInputError, WeightsError) as e:
            return {"error": str(e)}

    return read_digit


# ---------------------------------------------------------------------------- layout


class DrawTab:
    """The Draw tab's components, and the models each visitor has chosen."""

    def __init__(self, predictor: Predictor, below_pad: gr.Component | None = None):
        self.predictor = predictor
        self.shipped = {n: page_weights(predictor.models[n], SHIPPED) for n in MODEL_NAMES}  # encoded once
        self.pad = gr.HTML(
            value=None, elem_id="pad", html_template=page_file("pad.html"), js_on_load=page_file("pad.js"),
            head=page_head(), apply_default_css=False, server_functions=[read_digit_for(predictor)],
            setup=page_setup(), models=self.shipped)
        if below_pad is not None:  # made elsewhere (the collection's line), shown right under the pad
            below_pad.render()
        with gr.Row():
            self.choices = [gr.Radio([SHIPPED, MINE], value=SHIPPED, label=f"{MODEL_TITLES[n]} weights",
                                     elem_id=f"weights-{n}", interactive=True) for n in MODEL_NAMES]

    @staticmethod
    def sources(session, choices) -> dict[str, str]:
        """Whose weights answer for each model: MINE where the visitor chose and has their own."""
        return {n: MINE if c == MINE and n in session.models else SHIPPED
                for n, c in zip(MODEL_NAMES, choices, strict=True)}

    def chosen(self, session, choices) -> dict:
        """The models this visitor picked: their own trained ones where chosen and available."""
        return {n: session.models[n] if source == MINE else self.predictor.models[n]
                for n, source in self.sources(session, choices).items()}

    def send_models(self, session, *choices):
        """The chosen weights to the page (which re-reads the drawing with them)."""
        sources = self.sources(session, choices)
        missing = [MODEL_TITLES[n] for n, c in zip(MODEL_NAMES, choices, strict=True) if c == MINE != sources[n]]
        if missing:
            gr.Warning(f"No trained {' or '.join(missing)} in this tab yet: train one in the Train tab. "
                       "The shipped weights answer meanwhile.")
        return gr.HTML(models={n: self.shipped[n] if source == SHIPPED else page_weights(session.models[n], MINE)
                               for n, source in sources.items()})
