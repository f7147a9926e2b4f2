"""How a model does on the validation split: confusion matrix and its most confident mistakes."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from .data import MNIST


@dataclass(frozen=True)
class Evaluation:
    confusion: np.ndarray  # (10, 10) counts, rows = true digit, columns = prediction
    accuracy: float
    mistakes: list[tuple[int, int, int, float]]  # (validation index, true, predicted, confidence)


@torch.inference_mode()
def evaluate_model(model: nn.Module, data: MNIST, max_mistakes: int = 12, batch: int = 4000) -> Evaluation:
    model.eval()
    probs = torch.cat([torch.softmax(model(torch.tensor(data.x_valid[i:i + batch])), 1)
                       for i in range(0, len(data.x_valid), batch)]).numpy()
    predicted, truth = probs.argmax(1), data.y_valid
    confusion = confusion_matrix(truth, predicted)
    wrong = np.flatnonzero(predicted != truth)
    wrong = wrong[np.argsort(-probs[wrong, predicted[wrong]])][:max_mistakes]  # most confident first
    mistakes = [(int(i), int(truth[i]), int(predicted[i]), float(probs[i, predicted[i]])) for i in wrong]
    return Evaluation(confusion, float(np.trace(confusion) / len(truth)), mistakes)


@torch.inference_mode()
def predict_labels(model: nn.Module, x: np.ndarray, batch: int = 4000) -> np.ndarray:
    """Each digit's top answer, for (N, 784) digits scaled like training."""
    model.eval()
    if not len(x):
        return np.zeros(0, dtype=np.int64)
    return torch.cat([model(torch.tensor(x[i:i + batch])).argmax(1) for i in range(0, len(x), batch)]).numpy()


def confusion_matrix(truth: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """(10, 10) counts, rows = true digit, columns = prediction."""
    confusion = np.zeros((10, 10), dtype=np.int64)
    np.add.at(confusion, (np.asarray(truth, np.int64), np.asarray(predicted, np.int64)), 1)
    return confusion
