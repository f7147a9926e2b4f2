"""What every tab's wiring shares: ``bind``, the one way a handler gets the app's objects it needs
(the predictor, the classroom, the settings) before the event's own inputs, and ``QUIET``, the
options of the page's own events (not in the API, no progress drawn over the page)."""

from __future__ import annotations

import functools
import inspect

QUIET = dict(api_visibility="private", show_progress="hidden")


def bind(fn, *bound):
    """``functools.partial(fn, *bound)`` as Gradio can read it: Gradio finds the ``gr.Request``
    and ``gr.EventData`` it must pass by the handler's own annotations, which a partial hides,
    and names a handler by its ``__name__`` (the page's server functions too), which a partial lacks."""
    @functools.wraps(fn)
    def handler(*args):
        return fn(*bound, *args)
    signature = inspect.signature(fn)
    handler.__signature__ = signature.replace(parameters=list(signature.parameters.values())[len(bound):])
    return handler
