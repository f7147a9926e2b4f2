"""Weights as safetensors only (never pickle), with their story in the file's metadata.

``load_weights`` trusts nothing: the file must be small, parse as safetensors, name a known
model, and hold exactly that model's keys with the right shapes, float32 and finite values.
``save_weights`` writes atomically, so a crash mid-save never leaves a broken file behind.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import struct
import tempfile
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save
from torch import nn

from .models import MODEL_NAMES, architecture, build_model
from .presets import MAX_MODEL_BYTES

MAX_BYTES = MAX_MODEL_BYTES  # both models are < 40 kB; anything far larger is not ours
MAX_HEADER_BYTES = 64 * 1024  # the shipped headers are ~1 kB (tensor table and metadata)


class WeightsError(ValueError):
    """The file is not a valid set of weights for one of the demo's models."""


def weights_to_bytes(model: nn.Module, metadata: dict[str, str] | None = None) -> bytes:
    meta = {**(metadata or {}), **architecture(model), "torch": torch.__version__,
            "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}
    tensors = {k: v.detach().to("cpu", torch.float32).contiguous()
               for k, v in model.state_dict().items()}
    return st_save(tensors, metadata={k: str(v) for k, v in meta.items()})


def save_weights(model: nn.Module, path: str | os.PathLike, metadata: dict[str, str] | None = None):
    """Write ``model`` to ``path``: a temporary file in the same folder, fsync, then os.replace."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    blob = weights_to_bytes(model, metadata)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp, 0o644)  # mkstemp makes it owner-only; weights are meant to be shared
        with os.fdopen(fd, "wb") as f:
            f.write(blob)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)  # atomic on POSIX and Windows: readers see old or new, never half
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _metadata(blob: bytes) -> dict[str, str]:
    (header_len,) = struct.unpack("<Q", blob[:8])
    if header_len > len(blob) - 8:
        raise WeightsError(f"header claims {header_len:,} bytes, file has {len(blob) - 8:,}")
    if header_len > MAX_HEADER_BYTES:
        raise WeightsError(f"header is {header_len:,} bytes; the demo's weights have headers under "
                           f"{MAX_HEADER_BYTES:,}")
    try:
        header = json.loads(blob[8:8 + header_len])
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise WeightsError(f"header is not valid JSON ({e})") from e
    except RecursionError:  # [[[[...]]]]: nested deeper than Python's parser goes
        raise WeightsError("header is nested too deeply to be a safetensors header") from None
    if not isinstance(header, dict):
        raise WeightsError("header is not a table of tensors")
    meta = header.get("__metadata__")
    if not isinstance(meta, dict):
        return {}
    if not all(isinstance(v, str) for v in meta.values()):
        raise WeightsError("metadata values must be text")
    return meta


def weights_from_bytes(blob: bytes, source: str = "weights") -> tuple[nn.Module, dict[str, str]]:
    """Rebuild a model from safetensors bytes, checking everything. Returns (model, metadata)."""
    try:
        if len(blob) > MAX_BYTES:
            raise WeightsError(f"{len(blob):,} bytes; the demo's weights are under {MAX_BYTES:,}")
        if len(blob) < 8:
            raise WeightsError("too short to be a safetensors file")
        meta = _metadata(blob)
        name = meta.get("model")
        if name not in MODEL_NAMES:
            raise WeightsError(f"metadata 'model' is {name!r}, expected one of {', '.join(MODEL_NAMES)}")
        if meta.get("final_relu", "true") not in ("true", "false"):
            raise WeightsError(f"metadata 'final_relu' is {meta['final_relu']!r}, expected true/false")
        model = build_model(name, final_relu=meta.get("final_relu", "true") == "true")
        try:
            tensors = st_load(blob)
        except (SafetensorError, ValueError, RuntimeError, TypeError, OverflowError) as e:
            raise WeightsError(f"not a valid safetensors file ({e})") from e
        expected = model.state_dict()
        if set(tensors) != set(expected):
            missing, extra = sorted(set(expected) - set(tensors)), sorted(set(tensors) - set(expected))
            raise WeightsError(f"wrong keys for the {name} model: missing {missing}, unexpected {extra}")
        for key, ref in expected.items():
            t = tensors[key]
            if t.dtype != torch.float32:
                raise WeightsError(f"{key} is {t.dtype}, expected torch.float32")
            if t.shape != ref.shape:
                raise WeightsError(f"{key} has shape {tuple(t.shape)}, expected {tuple(ref.shape)}")
            if not torch.isfinite(t).all():
                raise WeightsError(f"{key} holds NaN or infinite values")
        model.load_state_dict(tensors, strict=True)
    except WeightsError as e:
        raise WeightsError(f"{source}: {e}") from None
    return model.eval(), meta


def load_weights(path: str | os.PathLike, expect: str | None = None) -> tuple[nn.Module, dict[str, str]]:
    """Load and validate a ``.safetensors`` file; ``expect`` names the model it must hold."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise WeightsError(f"{path}: {size:,} bytes; the demo's weights are under {MAX_BYTES:,}")
        blob = path.read_bytes()
    except OSError as e:
        raise WeightsError(f"{path}: cannot read ({e.strerror or e})") from e
    model, meta = weights_from_bytes(blob, source=str(path))
    if expect is not None and meta["model"] != expect:
        raise WeightsError(f"{path}: holds the {meta['model']} model, expected {expect}")
    return model, meta
