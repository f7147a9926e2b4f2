"""What the page sends the server, read and checked in one place: pictures as data URLs (decoded
by pictures.open_image), the
drawing as 784 numbers, weights as base64 safetensors, and the fields of a page event. Each reader
returns clean values or raises an error whose message is a sentence for the visitor."""

from __future__ import annotations

import base64
import binascii
import math

import gradio as gr
import numpy as np

from .models import MODEL_NAMES
from .page_assets import SHIPPED
from .pictures import MAX_FILE_BYTES as MAX_PICTURE_BYTES
from .preprocess import FIELD, ImageInputError
from .weights import WeightsError, weights_from_bytes

MINE = "my trained weights"  # the visitor's choice of their own weights (SHIPPED: the shipped ones)


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
    if value is None or isinstance(value, (str, list, tuple)) and not len(value):
        return None  # a cleared pad: gr.HTML hands its null value over as "" (or None)
    if isinstance(value, (list, tuple)) and len(value) != FIELD * FIELD:
        raise ImageInputError("Expected the drawing as 784 numbers.")
    try:
        digit = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError, OverflowError):  # OverflowError: integers too long for a float
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


def event_fields(evt: gr.EventData) -> dict:
    """What the page sent with its event; {} when it sent nothing (or not an object)."""
    data = getattr(evt, "_data", None)  # EventData's attribute access fails when nothing was sent
    return data if isinstance(data, dict) else {}
