import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# CI exports MNIST_DIR; a developer's checkout finds the shared copy next to it.
os.environ.setdefault("MNIST_DIR", str(REPO.parent / "shared" / "data" / "mnist"))


@pytest.fixture(scope="session")
def mnist():
    from mnist_demo.data import load_mnist

    return load_mnist()


@pytest.fixture(scope="session")
def shipped_weights_dir():
    return REPO / "weights"
