"""Skip the type stubs Gradio rewrites each time it is imported.

Gradio 6.31 makes every one of its 81 component classes through ``ComponentMeta``, which calls
``gradio.component_meta.create_or_modify_pyi``: it reads the class's source file, parses it with
``ast`` twice, and rewrites the ``.pyi`` stub beside it in site-packages when the two differ. That
serves Gradio's own developers (their editors read the stubs); a running app never reads them. It is
a third of ``import gradio``: 3.1 CPU-s against 2.0 with it skipped, here
(``python -m benchmarks.gradio_import``), paid by every start of the app (a Space's cold start, a
school laptop's), and by every process of the test suite that imports Gradio.

So ``install()`` (called by ``mnist_demo/__init__.py``, before anything of the package can import
Gradio) puts a finder first on ``sys.meta_path``: when ``gradio.component_meta`` is loaded, its
``create_or_modify_pyi`` becomes ``skip`` before any component class is made, and the finder takes
itself away. The stubs already installed stay as they are. A Gradio that has no such function, or
that was imported before this package, is left alone. Other projects do the same after importing
Gradio (stable-diffusion-webui, for its own components); skipping it for Gradio's own components
has to happen before.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys

MODULE = "gradio.component_meta"
FUNCTION = "create_or_modify_pyi"


def skip(component_class, class_name, events) -> None:
    """Stands in for Gradio's stub writer: writes nothing."""


def quiet(module) -> None:
    """``module`` (``gradio.component_meta``, just run) with its stub writer replaced by ``skip``."""
    if callable(getattr(module, FUNCTION, None)):
        setattr(module, FUNCTION, skip)


class _Finder(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name != MODULE:
            return None
        remove()  # once: the module is loaded once
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is not None and spec.loader is not None:
            run = spec.loader.exec_module

            def exec_module(module):
                run(module)
                quiet(module)

            spec.loader.exec_module = exec_module
        return spec


def install() -> None:
    """From now on, Gradio's first import skips its stubs (nothing to do if it is already imported)."""
    if MODULE not in sys.modules and not any(isinstance(f, _Finder) for f in sys.meta_path):
        sys.meta_path.insert(0, _Finder())


def remove() -> None:
    # A new list, not this one changed in place: find_spec calls this from inside the import
    # system's loop over sys.meta_path, and an item taken out under that loop skips the next finder.
    sys.meta_path = [f for f in sys.meta_path if not isinstance(f, _Finder)]
