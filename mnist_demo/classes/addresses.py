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


def base_url(request: gr.Request | None) -> str:
    """The app's address as students reach it. A teacher on the serving laptop opens it as
    localhost, which no phone can reach: then the laptop's network address, when it serves the
    network (app.py --host 0.0.0.0)."""
    if request is None:
        return "http://localhost:7860/"
    headers = request.headers
    host = headers.get("x-forwarded-host") or headers.get("host") or "localhost"
    scheme = headers.get("x-forwarded-proto") or request.url.scheme
    name, _, port = host.rpartition(":") if host.count(":") == 1 else (host, "", "")
    if name in ("localhost", "127.0.0.1") and lan.SERVING_LAN and lan.local_addresses():
        return f"http://{lan.local_addresses()[0]}:{port or 7860}/"
    return f"{scheme}://{host}/"


def join_url(seat: ClassSeat, code: str) -> str:
    return f"{seat.base_url}?class={code}"
