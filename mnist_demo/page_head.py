"""Scripts that must run before Gradio's own, put into the page's <head> as Gradio serves it.

Gradio adds an app's ``head`` and a component's to the page once its own code has started, too late
for what that code keeps as it loads: ``page/calm_frames.js`` must replace requestAnimationFrame
before Gradio's status tracker takes its reference to it. So ``FirstScripts``, an ASGI middleware,
writes them inline (a few hundred bytes; no request) just before the first <script> of the page
Gradio sends for ``GET /``, whatever its query (a class's link, the wall's). Every other response
passes as it is, unread.
"""

from __future__ import annotations

from .page_assets import page_file

FIRST = ("calm_frames.js",)
PAGE_PATHS = ("/", "")  # under the app's root path, when served behind one (uvicorn --root-path)


def page_path(scope) -> str:
    """The request's path under the app's root path, as Starlette's routing reads it."""
    path, root = scope.get("path", ""), scope.get("root_path", "")
    return path[len(root):] if root and path.startswith(root) else path


def first_scripts() -> bytes:
    return "".join(f"<script>{page_file(name)}</script>" for name in FIRST).encode()


def with_first_scripts(html: bytes, scripts: bytes) -> bytes:
    """``html`` with ``scripts`` just before its first <script> (after Gradio's <meta charset> and
    <base>), or as it is when it has none."""
    at = html.find(b"<script")
    return html if at < 0 else html[:at] + scripts + html[at:]


class FirstScripts:
    """ASGI middleware: ``FIRST`` in every HTML page served at ``/``, its Content-Length adjusted."""

    def __init__(self, app, scripts: bytes | None = None):
        self.app = app
        self.scripts = first_scripts() if scripts is None else scripts

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope.get("method") not in ("GET", "HEAD") or page_path(scope) not in PAGE_PATHS:
            return await self.app(scope, receive, send)
        start: dict | None = None
        body: list[bytes] = []

        async def held_send(message):
            nonlocal start
            if message["type"] == "http.response.start":
                headers = dict(message.get("headers", []))
                if not headers.get(b"content-type", b"").startswith(b"text/html"):
                    start = None
                    return await send(message)
                start = message
                return None
            if message["type"] != "http.response.body" or start is None:
                return await send(message)
            body.append(message.get("body", b""))
            if message.get("more_body", False):
                return None
            page = b"".join(body)
            added = len(self.scripts) if scope["method"] == "HEAD" else 0
            if page:
                new = with_first_scripts(page, self.scripts)
                added, page = len(new) - len(page), new
            headers = [(k, str(int(v) + added).encode()) if k == b"content-length" else (k, v)
                       for k, v in start.get("headers", [])]
            await send({**start, "headers": headers})
            await send({"type": "http.response.body", "body": page, "more_body": False})

        await self.app(scope, receive, held_send)
