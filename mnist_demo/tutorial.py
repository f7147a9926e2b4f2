"""The tutorial's code as written (../shared/seed), kept only as a reference to measure against.

The tests load its ``state_dict``s into our models, and ``benchmarks/train_speed.py`` times its
training loop against ``mnist_demo.train``. Do not "improve" anything here.
"""

import torch
import torch.nn.functional as F
from torch import nn, optim
from torch.utils.data import DataLoader, TensorDataset


class FeedForward(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(784, 10)

    def forward(self, xb):
        return self.lin(xb)


class CNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, kernel_size=3, stride=2, padding=1)
        self.conv2 = nn.Conv2d(16, 16, kernel_size=3, stride=2, padding=1)
        self.conv3 = nn.Conv2d(16, 10, kernel_size=3, stride=2, padding=1)

    def forward(self, xb):
        xb = xb.view(-1, 1, 28, 28)
        xb = F.relu(self.conv1(xb))
        xb = F.relu(self.conv2(xb))
        xb = F.relu(self.conv3(xb))
        xb = F.avg_pool2d(xb, 4)
        return xb.view(-1, xb.size(1))


def tutorial_training(model, x_train, y_train, x_valid, y_valid, epochs=15, on_epoch=None):
    """The tutorial's loop, verbatim but for the epoch count and a callback per epoch."""
    x_train, y_train, x_valid, y_valid = map(torch.tensor, (x_train, y_train, x_valid, y_valid))
    train_ds = TensorDataset(x_train, y_train)
    valid_ds = TensorDataset(x_valid, y_valid)
    train_dl = DataLoader(train_ds, batch_size=64, shuffle=True)
    valid_dl = DataLoader(valid_ds, batch_size=128)
    opt = optim.Adam(model.parameters(), lr=0.001)
    loss_func = F.cross_entropy
    for epoch in range(epochs):
        model.train()
        for xb, yb in train_dl:
            pred = model(xb)
            loss = loss_func(pred, yb)
            loss.backward()
            opt.step()
            opt.zero_grad()
        # Validation
        model.eval()
        with torch.no_grad():
            valid_loss = sum(loss_func(model(xb), yb).tolist() for xb, yb in valid_dl) / len(valid_dl)
        if on_epoch is not None:
            on_epoch(epoch, valid_loss)
    return model
