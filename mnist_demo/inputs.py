"""What the page sends the server, read and checked in one place: pictures as data URLs (decoded
by pictures.py), the drawing as 784 numbers, weights as base64 safetensors, kept digits as the
browser stores them, and the fields of a page event. Each reader returns clean values or raises
an error whose message is a sentence for the visitor."""

from __future__ import annotations

import base64
import binascii
import math

import gradio as gr
import numpy as np

from .collection import CAP, PIXELS, CollectionError
from .models import MODEL_NAMES
from .page_assets import CLASS, MINE, SHIPPED  # noqa: F401 (the weights choices, named once there)
from .pictures import MAX_FILE_BYTES as MAX_PICTURE_BYTES
from .preprocess import FIELD, ImageInputError
from .weights import WeightsError, weights_from_bytes


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


def model_from_page(name: str, encoded) -> tuple:
    """One model from the page's base64 safetensors (as the page stores trained weights), validated
    as any weights file: (model, metadata), or WeightsError."""
    source = f"your {name} weights"
    try:
        blob = base64.b64decode(str(encoded), validate=True)
    except (binascii.Error, ValueError):
        raise WeightsError(f"{source} are damaged") from None
    model, meta = weights_from_bytes(blob, source=source)
    if meta["model"] != name:
        raise WeightsError(f"{source} hold the {meta['model']} model")
    return model, meta


def models_from_page(weights: dict, shipped: dict) -> dict:
    """For each model, "shipped" or the page's own safetensors bytes (base64), validated as any file."""
    if not isinstance(weights, dict) or set(weights) != set(MODEL_NAMES):
        raise WeightsError(f"Expected weights for {', '.join(MODEL_NAMES)}.")
    return {name: shipped[name] if choice == SHIPPED else model_from_page(name, choice)[0]
            for name, choice in weights.items()}


def digits_from_page(entries) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Kept digits as the page stores them (page/store.js): a list of {"id", "label", "pixels":
    base64 of MNIST's 784 bytes}, at most a collection's worth. Returns (pixels (N, 784) uint8,
    labels, ids), or CollectionError saying what is wrong; the ids and labels are checked by
    the collection."""
    if not isinstance(entries, list) or len(entries) > CAP:
        raise CollectionError(f"Expected a list of at most {CAP:,} kept digits.")
    pixels, labels, ids = np.zeros((len(entries), PIXELS), np.uint8), [], []
    for k, entry in enumerate(entries):
        if not isinstance(entry, dict) or not isinstance(entry.get("pixels"), str) \
                or len(entry["pixels"]) != math.ceil(PIXELS / 3) * 4:
            raise CollectionError("A kept digit is its id, its label and 784 bytes in base64.")
        try:
            pixels[k] = np.frombuffer(base64.b64decode(entry["pixels"], validate=True), np.uint8)
        except (binascii.Error, ValueError):
            raise CollectionError("A kept digit's pixels are damaged.") from None
        labels.append(entry.get("label"))
        ids.append(entry.get("id"))
    if any(type(v) is not int for v in labels + ids):  # not bool, float or text: numpy would coerce them
        raise CollectionError("A kept digit's id and label must be whole numbers.")
    # No dtype: a whole number too large for int64 becomes an object array, which the collection
    # refuses with the rest of its checks on ranges.
    return pixels, np.array(labels), np.array(ids)


def event_fields(evt: gr.EventData) -> dict:
    """What the page sent with its event; {} when it sent nothing (or not an object)."""
    data = getattr(evt, "_data", None)  # EventData's attribute access fails when nothing was sent
    return data if isinstance(data, dict) else {}
