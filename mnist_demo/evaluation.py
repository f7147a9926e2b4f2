"""How well a model does, in one place: loss and accuracy over tensors (the training loop's
validation), accuracy on a set of the visitor's digits, and on the validation split the confusion
matrix, per-class accuracy and most confident mistakes that the tabs show."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .collection import Digits
from .data import MNIST


@torch.inference_mode()
def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 2000) -> tuple[float, float]:
    """Mean cross-entropy and accuracy over (x, y), in large batches; the model's train/eval mode
    is left as it was, so the training loop can call it between epochs."""
    was_training = model.training
    model.eval()
    loss_sum, correct = 0.0, 0
    for i in range(0, len(x), batch_size):
        logits = model(x[i:i + batch_size])
        loss_sum += F.cross_entropy(logits, y[i:i + batch_size], reduction="sum").item()
        correct += (logits.argmax(1) == y[i:i + batch_size]).sum().item()
    model.train(was_training)
    return loss_sum / len(x), correct / len(x)


def evaluate_digits(model: nn.Module, digits: Digits) -> float:
    """Accuracy on some of the visitor's digits, on whichever device the model is."""
    device = next(model.parameters()).device
    return evaluate(model, torch.from_numpy(digits.x).to(device), torch.from_numpy(digits.y).to(device))[1]


@dataclass(frozen=True)
class Evaluation:
    confusion: np.ndarray  # (10, 10) counts, rows = true digit, columns = prediction
    accuracy: float
    mistakes: list[tuple[int, int, int, float]]  # (validation index, true, predicted, confidence)


@torch.inference_mode()
def evaluate_model(model: nn.Module, data: MNIST, max_mistakes: int = 12, batch: int = 4000) -> Evaluation:
    """Confusion matrix, accuracy and the most confident mistakes on the validation split."""
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


def per_class_accuracy(confusion: np.ndarray) -> np.ndarray:
    """Each true digit's share answered right (0 for a digit with no examples)."""
    return np.diag(confusion) / np.maximum(confusion.sum(1), 1)
