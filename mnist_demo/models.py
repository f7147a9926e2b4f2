"""The tutorial's two models, with its class and parameter names, so that a ``state_dict``
saved by the tutorial's own code loads here unchanged (and the other way round).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .presets import MODEL_NAMES

MODEL_TITLES = {"linear": "Linear", "cnn": "CNN"}


class FeedForward(nn.Module):
    """``nn.Linear(784, 10)``: one weight template per digit, no hidden layer."""

    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(784, 10)

    def forward(self, xb: torch.Tensor) -> torch.Tensor:
        return self.lin(xb.reshape(-1, 784))  # accepts (N, 784), (N, 28, 28) or (N, 1, 28, 28)


class CNN(nn.Module):
    """Three stride-2 convolutions (28 -> 14 -> 7 -> 4) and an average over the 4x4 map.

    ``conv3`` has one output channel per digit, so its 4x4 maps are per-class score maps.
    The tutorial puts a ReLU on them too (``final_relu=True``, the default): a class whose
    scores are negative everywhere then outputs exactly 0 and gets no gradient, which is why
    the tutorial's recipe can leave classes dead. The recipes in ``presets.py`` avoid that by
    starting ``conv3.bias`` at 1.0, so we keep the tutorial's architecture as it is.
    """

    def __init__(self, final_relu: bool = True):
        super().__init__()
        self.final_relu = final_relu
        self.conv1 = nn.Conv2d(1, 16, kernel_size=3, stride=2, padding=1)
        self.conv2 = nn.Conv2d(16, 16, kernel_size=3, stride=2, padding=1)
        self.conv3 = nn.Conv2d(16, 10, kernel_size=3, stride=2, padding=1)

    def feature_maps(self, xb: torch.Tensor) -> list[torch.Tensor]:
        """The activations after each convolution: (N,16,14,14), (N,16,7,7), (N,10,4,4)."""
        xb = xb.reshape(-1, 1, 28, 28)
        a1 = F.relu(self.conv1(xb))
        a2 = F.relu(self.conv2(a1))
        a3 = self.conv3(a2)
        return [a1, a2, F.relu(a3) if self.final_relu else a3]

    def forward(self, xb: torch.Tensor) -> torch.Tensor:
        xb = F.avg_pool2d(self.feature_maps(xb)[-1], 4)
        return xb.view(-1, xb.size(1))


def build_model(name: str, final_relu: bool = True) -> nn.Module:
    if name == "linear":
        return FeedForward()
    if name == "cnn":
        return CNN(final_relu=final_relu)
    raise ValueError(f"unknown model {name!r}; choose one of {', '.join(MODEL_NAMES)}")


def architecture(model: nn.Module) -> dict[str, str]:
    """What, besides the parameters, is needed to rebuild ``model`` (goes into weight metadata)."""
    if isinstance(model, CNN):
        return {"model": "cnn", "final_relu": str(model.final_relu).lower()}
    if isinstance(model, FeedForward):
        return {"model": "linear"}
    raise TypeError(f"not one of the demo's models: {type(model).__name__}")
