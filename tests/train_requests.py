"""The one place tests spell out a training's controls: ``controls(**overrides)`` gives their
values in the order the Train tab sends them (ui_train.CONTROLS), as run_training and the /train
API take them. The defaults are a short training of both models."""

from mnist_demo.ui_train import CONTROLS

TINY = dict(which="both", preset="tutorial", epochs=1, lr=1e-3, batch_size=64, optimizer="adam",
            schedule="constant", subset=2000, seed=0, augment=False, target=0, start_from="new weights",
            include=False)


def controls(**overrides) -> list:
    unknown = set(overrides) - set(CONTROLS)
    assert not unknown, f"no such control: {unknown}"
    values = {**TINY, **overrides}
    return [values[name] for name in CONTROLS]
