"""Both models on one digit: probabilities, top label, and whether they agree.

Weights are loaded once, at construction. Prediction only reads the models (no state changes,
``inference_mode``), so one ``Predictor`` can serve many threads at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .models import MODEL_NAMES
from .preprocess import preprocess
from .weights import load_weights

WEIGHTS_DIR = Path(__file__).resolve().parents[1] / "weights"


@dataclass(frozen=True)
class ModelOutput:
    label: int
    probabilities: list[float]  # 10 values summing to 1

    def as_dict(self) -> dict:
        return {"label": self.label, "probabilities": self.probabilities}


@dataclass(frozen=True)
class Prediction:
    digit: np.ndarray  # the (28, 28) input both models saw, scaled like training
    outputs: dict[str, ModelOutput]  # "linear", "cnn"

    @property
    def agree(self) -> bool:
        return len({o.label for o in self.outputs.values()}) == 1

    def as_dict(self) -> dict:
        """The public API's JSON."""
        return {**{name: out.as_dict() for name, out in self.outputs.items()}, "agree": self.agree}


def load_shipped_models(weights_dir: str | Path = WEIGHTS_DIR) -> dict[str, nn.Module]:
    return {name: load_weights(Path(weights_dir) / f"{name}.safetensors", expect=name)[0]
            for name in MODEL_NAMES}


class Predictor:
    def __init__(self, models: dict[str, nn.Module] | None = None):
        self.models = models if models is not None else load_shipped_models()
        for model in self.models.values():
            model.eval()

    @torch.inference_mode()
    def predict_digit(self, digit: np.ndarray) -> Prediction:
        """Run every model on one (28, 28) digit already preprocessed like MNIST."""
        x = torch.tensor(np.asarray(digit, dtype=np.float32)).reshape(1, 784)  # a copy: inputs may be read-only
        outputs = {}
        for name, model in self.models.items():
            probs = torch.softmax(model(x)[0].float(), 0).tolist()
            outputs[name] = ModelOutput(int(np.argmax(probs)), probs)
        return Prediction(digit, outputs)

    def predict(self, image) -> Prediction | None:
        """Anything ``preprocess`` accepts; None when nothing is drawn."""
        digit = preprocess(image)
        return None if digit is None else self.predict_digit(digit)

    @torch.inference_mode()
    def predict_batch(self, x: np.ndarray) -> dict[str, np.ndarray]:
        """Top labels of every model for a batch of (N, 784) digits (the 3x3 grid, evaluations)."""
        xt = torch.tensor(np.asarray(x, dtype=np.float32)).reshape(-1, 784)
        return {name: model(xt).argmax(1).numpy() for name, model in self.models.items()}
