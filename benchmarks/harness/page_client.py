"""Many Gradio pages at once over HTTP, asynchronous (httpx), as benchmarks/class_load.py simulates
a class of them (harness/events.py is the one-call, synchronous client of the tests): the app's events
read from its /config, a page's session (its heartbeat, its event stream opened while an event
waits, as Gradio's own client does), and what a page does when its server is gone. No browser:
only the events are sent, as the page's scripts send them."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import secrets
import sys
import time
from typing import Protocol

import httpx

API = "gradio_api"
MAX_ID = 2**53  # as the page's ids (page/store.js)
RECONNECT_SECONDS = 2.0  # how often Gradio's page asks whether its server is back
CALL_LIMIT = 30.0  # an event with no answer by then is counted as such (the page itself waits on, as a browser)
GONE = (httpx.TransportError,)  # refused, reset or cut: the server is gone (a slow answer is not: no timeouts)


class Broken(Exception):
    """The page lost its server: a connection refused or cut, or the server said so."""


# ---------------------------------------------------------------------------- the app's events


class Events:
    """The events a student's and a wall's page fire, found in /config by what they update (so a
    page laid out differently still works): (fn_index, dependency)."""

    def __init__(self, config: dict):
        self.comps = {c["id"]: c for c in config["components"]}
        deps = config["dependencies"]

        def find(event: str, updates: str | None = None, not_updating: str | None = None, target=None):
            for k, d in enumerate(deps):
                outputs = [self.elem(o) for o in d["outputs"]]
                if any(t[1] == event and (target is None or t[0] == target) for t in d["targets"]) \
                        and (updates is None or updates in outputs) \
                        and (not_updating is None or not_updating not in outputs):
                    return d.get("id", k), d
            sys.exit(f"the app has no {event!r} event updating #{updates}: has the page changed?")

        seat = next((i for i in self.comps if self.elem(i) == "class-seat"), None)
        if seat is None:
            sys.exit("the app has no #class-seat element (page/class_seat.js): has the page changed?")
        self.seat = seat
        self.open = find("open", target=seat)  # open_page: the page's address and its stored seat
        self.keep = find("keep")  # ui_digits.keep: the own collection (the class's share goes by send_to_class)
        self.restore = find("restore")
        self.restored = next(((d.get("id", k), d) for k, d in enumerate(deps)
                              if d.get("trigger_after") == self.restore[0]), None)
        self.student_tick = find("tick", "class-seat")  # check_class_model
        self.wall_tick = find("tick", "wall-view", not_updating="class-seat")  # refresh_wall
        self.nothing = next(((d.get("id", k), d) for k, d in enumerate(deps) if not d["inputs"] and any(
            t[1] == "click" and self.elem(t[0]) == "class-cancel-end" for t in d["targets"])), None)
        self.pad = self.keep[1]["targets"][0][0]
        self.status_at = self.output_at(self.open, "class-status")  # the sentence a page load says
        self.seat_at = self.output_at(self.open, "class-seat")  # the seat the page then stores
        self.tick_seat_at = self.output_at(self.student_tick, "class-seat")
        self.wall_at = self.output_at(self.wall_tick, "wall-view")
        self.wall_seconds = self.timer_seconds(self.wall_tick)
        self.student_seconds = self.timer_seconds(self.student_tick)

    def elem(self, i) -> str | None:
        return self.comps.get(i, {}).get("props", {}).get("elem_id")

    def output_at(self, event, elem_id: str) -> int | None:
        return next((k for k, o in enumerate(event[1]["outputs"]) if self.elem(o) == elem_id), None)

    def timer_seconds(self, event) -> float:
        return float(self.comps[event[1]["targets"][0][0]]["props"]["value"])

    def inputs(self, event) -> list:
        """What the page sends as the inputs: null for a gr.State (the server holds it), else the
        component's value."""
        return [None if self.comps[i]["type"] == "state" else self.comps[i].get("props", {}).get("value")
                for i in event[1]["inputs"]]


def text_of(value) -> str | None:
    """A Markdown output's text: a string, or an update's value (None: no text, or gr.skip())."""
    value = value.get("value") if isinstance(value, dict) else value
    return value if isinstance(value, str) else None


def stored_after(update, stored: dict | None) -> dict | None:
    """What the browser stores after an update of #class-seat (page/class_seat.js): its new ``seat``
    prop (gr.HTML sends its own props under "props") where it has a class or a teacher token,
    nothing where it has neither; unchanged where the update sends no seat (gr.skip())."""
    props = update.get("props") if isinstance(update, dict) else None
    if not isinstance(props, dict) or "seat" not in props:
        return stored
    seat = props["seat"]
    return seat if isinstance(seat, dict) and (seat.get("code") or seat.get("teacher")) else None


# ---------------------------------------------------------------------------- a page


class Host(Protocol):
    """What a page needs of the run it belongs to: its HTTP client, the API's root, the app's events."""

    http: httpx.AsyncClient
    api: str
    ev: Events


class Page:
    """One browser tab: a session hash, its heartbeat, and its session's event stream, opened while
    any of its events waits for an answer (as Gradio's client does)."""

    def __init__(self, bench: Host, query: str):
        self.bench, self.query = bench, query
        self.hash = secrets.token_hex(6)
        self.waiting: dict[str, asyncio.Future] = {}
        self.early: dict[str, dict] = {}  # answers that came before their POST returned
        self.streaming = self.broken = False
        self.tasks: set[asyncio.Task] = set()

    def spawn(self, coro) -> asyncio.Task:
        task = asyncio.create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    def close(self) -> None:
        self.broken = True
        for task in list(self.tasks):
            task.cancel()

    def lost(self) -> None:
        if not self.broken:
            self.broken = True
            for done in self.waiting.values():
                if not done.done():
                    done.set_exception(Broken("connection lost"))
            self.waiting.clear()

    async def call(self, event, data: list, event_data=None, trigger=None) -> dict:
        """Fire one event and wait for its process_completed message (or {"msg": "refused"});
        TimeoutError after CALL_LIMIT seconds, Broken when the server is gone."""
        return await asyncio.wait_for(self._call(event, data, event_data, trigger), CALL_LIMIT)

    async def _call(self, event, data: list, event_data=None, trigger=None) -> dict:
        if self.broken:
            raise Broken("disconnected")
        b = self.bench
        body = {"data": data, "event_data": event_data, "fn_index": event[0], "trigger_id": trigger,
                "session_hash": self.hash}
        try:
            r = await b.http.post(f"{b.api}/queue/join?{self.query}", json=body)
        except GONE as e:
            self.lost()
            raise Broken(type(e).__name__) from None
        if r.status_code != 200:  # 503: Gradio's "queue is full"
            return {"msg": "refused", "status": r.status_code, "success": False}
        event_id = r.json()["event_id"]
        done = asyncio.get_running_loop().create_future()
        if event_id in self.early:
            done.set_result(self.early.pop(event_id))
        else:
            self.waiting[event_id] = done
        if not self.streaming:
            self.streaming = True
            self.spawn(self.stream())
        return await done

    async def stream(self) -> None:
        b = self.bench
        try:
            while True:
                async with b.http.stream("GET", f"{b.api}/queue/data", params={"session_hash": self.hash}) as r:
                    if r.status_code != 200:
                        raise Broken(f"event stream answered {r.status_code}")
                    async for line in r.aiter_lines():
                        if not line.startswith("data:"):
                            continue
                        message = json.loads(line[5:])
                        kind = message.get("msg")
                        if kind == "process_completed":
                            done = self.waiting.pop(message.get("event_id"), None)
                            if done is None:
                                self.early[message.get("event_id")] = message
                            elif not done.done():
                                done.set_result(message)
                        elif kind == "unexpected_error":
                            raise Broken(str(message.get("message")))
                        elif kind == "close_stream":
                            break
                if not self.waiting:
                    return
        except (*GONE, Broken):
            self.lost()
        finally:
            self.streaming = False

    async def heartbeat(self) -> None:
        """Held open by every Gradio page with state; its end is how an idle page learns the server is gone."""
        try:
            async with self.bench.http.stream("GET", f"{self.bench.api}/heartbeat/{self.hash}") as r:
                async for _ in r.aiter_bytes():
                    pass
        except GONE:
            pass
        self.lost()

    async def open(self, params: dict, stored: dict | None = None) -> dict:
        """Open the page: its heartbeat, then page/class_seat.js's "open" event with the address's
        parameters and what this browser stored (which joins, for {"class": CODE}). Its HTML and
        assets are not fetched: only the events are simulated."""
        b = self.bench
        self.spawn(self.heartbeat())
        return await self.call(b.ev.open, b.ev.inputs(b.ev.open), {"params": params, "stored": stored}, b.ev.seat)

    def every(self, seconds: float, tick, paused) -> None:
        """A gr.Timer: a tick every ``seconds``, dropped while the previous one is still running."""
        async def loop():
            running, due = None, time.monotonic() + seconds * random.random()
            while not self.broken:
                await asyncio.sleep(max(0.0, due - time.monotonic()))
                due += seconds
                if not paused() and (running is None or running.done()):
                    running = self.spawn(tick())
        self.spawn(loop())


async def back_online(bench: Host) -> None:
    """As Gradio's page does when its connection is lost: ask /app_id every 2 s until it answers."""
    await asyncio.sleep(RECONNECT_SECONDS * random.random())
    while True:
        with contextlib.suppress(httpx.HTTPError):
            if (await bench.http.get(f"{bench.api}/app_id", timeout=10)).status_code == 200:
                return
        await asyncio.sleep(RECONNECT_SECONDS)
