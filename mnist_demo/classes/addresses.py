"""The addresses a class's links are made from, and who is asking: read from the request that
opened the page (a Space's proxy, a laptop serving its network, or this computer alone).
Shared by the student's, the teacher's and the wall's handlers."""

from __future__ import annotations

import gradio as gr

from .. import lan
from ..session import ClassSeat


def client_of(request: gr.Request | None) -> str:
    """Who is guessing codes, for the classroom's rate limit: the first forwarded address (a
    Space's proxy), else the connection's."""
    if request is None:
        return "local"
    forwarded = (request.headers.get("x-forwarded-for") or "").split(",")[0].strip()
    return forwarded or getattr(request.client, "host", None) or "unknown"


def base_url(request: gr.Request | None, serving_lan: bool) -> str:
    """The app's address as students reach it, from the request that opened the teacher's page
    (``serving_lan``: Settings.serving_lan; see lan.student_address)."""
    if request is None:
        return "http://localhost:7860/"
    headers = request.headers
    host = headers.get("x-forwarded-host") or headers.get("host") or "localhost"
    return lan.student_address(host, headers.get("x-forwarded-proto") or request.url.scheme, serving_lan)


def join_url(seat: ClassSeat, code: str) -> str:
    return f"{seat.base_url}?class={code}"
