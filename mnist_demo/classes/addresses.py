"""The addresses a class's links are made from, and who is asking: read from the request that
opened the page (a Space's proxy, a laptop serving its network, or this computer alone).
Shared by the student's, the teacher's and the wall's handlers."""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING

from .. import lan

if TYPE_CHECKING:  # annotations only (none of these is a Gradio handler, whose hints Gradio reads): the
    import gradio as gr  # teacher's page's routes use this module without Gradio

    from ..session import ClassSeat


def client_of(request: gr.Request | None, proxy_hops: int = 0) -> str:
    """Who is asking, for the classroom's per-client limits (wrong codes, classes started, new
    students): an address, an IPv6 one as its /64 (one household's or school's network).

    ``proxy_hops`` (Settings.proxy_hops): how many proxies in front of the app append to
    X-Forwarded-For. Each appends the address it was reached from, so the client's own address is
    that many entries from the right; everything left of it is whatever the client wrote. 0 (the
    default, and a laptop serving its class): the header is ignored, as any client can send it."""
    if request is None:
        return "local"
    address = getattr(request.client, "host", None) or ""
    if proxy_hops > 0:
        forwarded = [a.strip() for a in ",".join(request.headers.getlist("x-forwarded-for")
                                                 if hasattr(request.headers, "getlist") else
                                                 [request.headers.get("x-forwarded-for") or ""]).split(",")]
        forwarded = [a for a in forwarded if a]
        if forwarded:
            address = forwarded[-min(proxy_hops, len(forwarded))]
    return network_of(address) or "unknown"


def network_of(address: str) -> str:
    """An IPv4 address as it is; an IPv6 one as its /64 (a single device is given a whole /64, and
    can use any address in it); anything else as text, cut short."""
    try:
        ip = ipaddress.ip_address(address.strip("[]").split("%")[0])
    except ValueError:
        return address[:64]
    if ip.version == 6:
        if ip.ipv4_mapped:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def base_url(request: gr.Request | None, serving_lan: bool) -> str:
    """The app's address as students reach it, from the request that opened the teacher's page
    (``serving_lan``: Settings.serving_lan; see lan.student_address)."""
    if request is None:
        return "http://localhost:7860/"
    headers = request.headers
    host = headers.get("x-forwarded-host") or headers.get("host") or "localhost"
    scheme = (headers.get("x-forwarded-proto") or request.url.scheme or "http").split(",")[0].strip().lower()
    # Header text, chosen by whoever sent the request: a host name's characters only, and a web
    # scheme (the pages escape what is left, teacher.teacher_links and views.join_card).
    host = "".join(ch for ch in host.split(",")[0].strip() if ch.isalnum() or ch in "-.:[]_")[:255] or "localhost"
    return lan.student_address(host, scheme if scheme in ("http", "https") else "http", serving_lan)


def join_url(seat: ClassSeat, code: str) -> str:
    return f"{seat.base_url}?class={code}"
