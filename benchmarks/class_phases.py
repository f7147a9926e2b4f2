"""The phases of benchmarks/class_load.py: simulated students who keep a drawing every few seconds,
the class's wall, and the run (a big class, a kill -9 and a restart halfway, then several classes
at once), each event timed as the page would see it."""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import os
import random
import re
import secrets
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np

from benchmarks.harness.launcher import cpu_seconds, free_port, launch
from benchmarks.harness.page_client import (
    API,
    CALL_LIMIT,
    GONE,
    MAX_ID,
    RECONNECT_SECONDS,
    Broken,
    Events,
    Page,
    back_online,
    stored_after,
    text_of,
)
from mnist_demo.data import DataError
from mnist_demo.settings import from_process

COUNT = re.compile(r'id="class-count" data-count="(\d+)"')
DRAWING = re.compile(r'data-drawing-id="(\d+)"')
WALL_CODE = re.compile(r'id="class-wall" class="class-wall[^"]*" data-code="([^"]*)"')
MNIST_ON_WALL = re.compile(r'<tr class="all">.*?</b> · ([^<]*)</td>')  # "–" until its MNIST scores are in


def pct(values, q: float) -> float:
    return float(np.percentile(values, q)) if len(values) else float("nan")


def digit_source() -> tuple[np.ndarray, np.ndarray]:
    """Handwriting to keep: 3,000 of MNIST's validation digits, found as the app finds MNIST
    (MNIST_DIR, else OpenML's cached copy); without MNIST, random bytes (the wall draws thumbnails
    of what is kept; their content barely changes the cost)."""
    try:
        data = from_process().mnist.load()
        return (data.x_valid[:3000] * 256).astype(np.uint8), data.y_valid[:3000].astype(np.uint8)  # pixels / 256: exact
    except DataError:
        rng = np.random.default_rng(0)
        return rng.integers(0, 256, (300, 784), dtype=np.uint8), rng.integers(0, 10, 300).astype(np.uint8)

# ---------------------------------------------------------------------------- students and walls


async def live(owner) -> None:
    """Keep a student's or a wall's page open: reload it whenever it loses its server, as
    Gradio's page does. ``owner`` has ``bench``, ``page`` and ``open()``."""
    await owner.open()
    while not owner.bench.closing:
        if owner.page is not None and owner.page.broken:
            owner.page = None
            await back_online(owner.bench)
            await owner.open()
        await asyncio.sleep(0.1)


@dataclass
class Keep:
    drawing_id: int
    code: str
    sent: float  # time.time() when the page fired the event
    repeat: bool = False  # a double tap: the same drawing again
    acked: float | None = None
    outcome: str = "no answer before its phase ended"


@dataclass
class Seen:
    at: float  # time.time() when the wall page received the refresh
    count: int
    ids: list[int]
    code: str


class Student:
    def __init__(self, bench: Bench, code: str):
        self.bench, self.code = bench, code
        self.page: Page | None = None
        self.stored = None  # what page/class_seat.js keeps in localStorage: {code, student, teacher}
        self.kept: list[dict] = []  # this browser's own store (page/store.js), restored on a reload
        self.in_class = False
        self.note = ""

    async def open(self, attempts: int = 4) -> None:
        b = self.bench
        for attempt in range(attempts):  # a visitor reloads a page that failed to load
            page = Page(b, f"class={self.code}")
            try:
                answer = await page.open({"class": self.code}, self.stored)
            except (TimeoutError, Broken):
                page.close()
                await asyncio.sleep(RECONNECT_SECONDS)
                continue
            if not answer.get("success"):
                b.count(f"page load refused ({answer.get('status', 'error')})")
                page.close()
                await asyncio.sleep(RECONNECT_SECONDS * (attempt + 1))
                continue
            out = answer["output"]["data"]
            self.stored = stored_after(out[b.ev.seat_at], self.stored)  # the seat's watch() stores it
            self.in_class = bool(self.stored and self.stored.get("code") == self.code)
            status = text_of(out[b.ev.status_at]) if b.ev.status_at is not None else None
            self.note = status if status and "⚠️" in status else ""
            if self.note:
                b.count(f"page load: {self.note.split('⚠️')[1].strip()}")
            if self.kept:  # pad.js: trigger("restore", ...) with what this browser kept, then its .then()
                with contextlib.suppress(Broken, asyncio.TimeoutError):
                    done = await page.call(b.ev.restore, b.ev.inputs(b.ev.restore),
                                           {"digits": self.kept, "weights": {}}, b.ev.pad)
                    if done.get("success") and b.ev.restored:
                        await page.call(b.ev.restored, b.ev.inputs(b.ev.restored))
            if self.in_class:
                page.every(b.ev.student_seconds, lambda p=page: self.tick(p), lambda: b.timers_paused)
            self.page = page
            return
        b.count("page never loaded")

    async def tick(self, page: Page) -> None:
        b = self.bench
        with contextlib.suppress(Broken, asyncio.TimeoutError):
            answer = await page.call(b.ev.student_tick, b.ev.inputs(b.ev.student_tick), None,
                                     b.ev.student_tick[1]["targets"][0][0])
            b.student_ticks += 1
            if answer.get("success") and b.ev.tick_seat_at is not None:  # an ended class clears the seat
                self.stored = stored_after(answer["output"]["data"][b.ev.tick_seat_at], self.stored)

    async def live(self) -> None:
        await live(self)

    def new_entry(self) -> dict:
        images, labels = self.bench.digits
        k = random.randrange(len(labels))
        label = int(labels[k])
        said = {m: label if random.random() < 0.8 else random.randrange(10) for m in ("linear", "cnn")}
        return {"id": secrets.randbelow(MAX_ID), "label": label,
                "pixels": base64.b64encode(images[k].tobytes()).decode(), "said": said}

    async def keep(self) -> Keep:
        """Keep one drawing as the pad does: into the class by its outbox, and the own collection."""
        entry = self.new_entry()
        self.kept.append({k: entry[k] for k in ("id", "label", "pixels")})
        record = await self.send(entry, repeat=False)
        if random.random() < self.bench.args.double_taps:
            await self.send(entry, repeat=True)
        return record

    async def send(self, entry: dict, repeat: bool) -> Keep:
        b, page = self.bench, self.page
        record = Keep(entry["id"], self.code, time.time(), repeat)
        b.keeps.append(record)
        if page is None or page.broken:
            record.outcome = "server unreachable (page reconnecting)"
            return record
        seat = self.stored or {}
        if seat.get("state", "joined") != "joined" or not seat.get("student"):
            record.outcome = "not sent: the page is not in a class"
            return record
        outbox = {"kind": "keep", **entry, "code": seat["code"], "student": seat["student"]}
        body = {"session_hash": page.hash, "component_id": b.ev.pad, "fn_name": "send_to_class", "data": outbox}
        page.spawn(page.call(b.ev.keep, b.ev.inputs(b.ev.keep), entry, b.ev.pad))  # the own collection, unawaited
        try:
            r = await asyncio.wait_for(b.http.post(f"{b.api}/component_server/", json=body), CALL_LIMIT)
        except GONE:
            record.outcome = "connection lost"
            return record
        except TimeoutError:
            record.outcome = f"no answer in {CALL_LIMIT:.0f} s"
            return record
        record.acked = time.time()
        reply = r.json() if r.status_code == 200 else {}
        if reply.get("result") in ("stored", "stored before"):
            record.outcome = "acknowledged"
        elif reply.get("result"):
            record.outcome = f"{reply['result']}: {reply.get('message', '')}"
        else:
            record.outcome = f"error from the server (HTTP {r.status_code})"
        return record


class Wall:
    def __init__(self, bench: Bench, code: str, token: str):
        self.bench, self.code, self.token = bench, code, token
        self.page: Page | None = None
        self.seen: list[Seen] = []
        self.mnist_ready = False
        self.redraws = self.ticks = 0

    async def open(self) -> None:
        b = self.bench
        self.mnist_ready = False
        for _ in range(4):
            page = Page(b, f"wall={self.token}")
            try:
                answer = await page.open({"wall": self.token})  # a projector's browser: nothing stored
            except (TimeoutError, Broken):
                page.close()
                await asyncio.sleep(RECONNECT_SECONDS)
                continue
            if answer.get("success"):
                shown = b.ev.output_at(b.ev.open, "wall-view")
                said = text_of(answer["output"]["data"][shown]) if shown is not None else None
                if said and "ended" in said:
                    b.count("wall page: " + said[:80])
                page.every(b.ev.wall_seconds, lambda p=page: self.tick(p), lambda: b.walls_paused)
                self.page = page
                return
            page.close()
            await asyncio.sleep(RECONNECT_SECONDS)
        b.count("wall never loaded")

    async def tick(self, page: Page | None = None) -> bool:
        """One refresh; True when it redrew the wall."""
        b, page = self.bench, page or self.page
        try:
            answer = await page.call(b.ev.wall_tick, b.ev.inputs(b.ev.wall_tick), None,
                                     b.ev.wall_tick[1]["targets"][0][0])
        except (TimeoutError, Broken):
            return False
        self.ticks += 1
        if not answer.get("success"):
            b.count("wall refresh failed")
            return False
        html = text_of(answer["output"]["data"][b.ev.wall_at])
        if html is None:
            return False  # nothing new: gr.skip()
        count, code = COUNT.search(html), WALL_CODE.search(html)
        if count is None:
            b.count("wall refresh without a count (" + html[:60] + ")")
            return False
        self.redraws += 1
        scores = MNIST_ON_WALL.search(html)
        self.mnist_ready = bool(scores and scores.group(1).strip() not in ("–", ""))
        self.seen.append(Seen(time.time(), int(count.group(1)), [int(i) for i in DRAWING.findall(html)],
                              code.group(1) if code else ""))
        return True

    async def live(self) -> None:
        await live(self)


# ---------------------------------------------------------------------------- the run


@dataclass
class Window:
    """A stretch of time whose server CPU is charged to what happened in it."""
    name: str
    start: float
    end: float = 0.0
    cpu: float = 0.0
    keeps: int = 0  # keeps fired in it, where counted
    redraws: int = 0  # wall refreshes that redrew, where counted


@dataclass
class Bench:
    args: argparse.Namespace
    folder: Path
    classes: list  # NewClass: the big class first, then the small ones
    stack: contextlib.ExitStack
    digits: tuple = field(default_factory=digit_source)
    keeps: list[Keep] = field(default_factory=list)
    problems: dict[str, int] = field(default_factory=dict)
    windows: dict[str, Window] = field(default_factory=dict)
    marks: dict[str, float] = field(default_factory=dict)
    lag: list[float] = field(default_factory=list)
    walls_paused: bool = False
    timers_paused: bool = False
    closing: bool = False
    student_ticks: int = 0
    servers: int = 0
    t0: float = field(default_factory=time.monotonic)
    big_wall: Wall | None = None
    small_walls: list[Wall] = field(default_factory=list)

    def count(self, problem: str) -> None:
        self.problems[problem] = self.problems.get(problem, 0) + 1

    def start_server(self) -> None:
        env = {"MNIST_DATA_DIR": str(self.folder)}
        if self.args.max_drawings:
            env["MNIST_CLASS_MAX_DRAWINGS"] = str(self.args.max_drawings)
        self.servers += 1
        self.url, self.proc = self.stack.enter_context(
            launch("app.py", port=self.port, env=env, log=self.folder / f"server-{self.servers}.log", timeout=120))
        self.api = f"{self.url}{API}"

    def cpu(self) -> float:
        return cpu_seconds(self.proc.pid)

    @contextlib.contextmanager
    def window(self, name: str):
        w = Window(name, time.time())
        cpu0 = self.cpu()
        try:
            yield w
        finally:
            w.cpu, w.end = self.cpu() - cpu0, time.time()
            self.windows[name] = w

    async def monitor_lag(self) -> None:
        """How late this client's own event loop runs: its timings are only as good as this."""
        while True:
            t0 = time.monotonic()
            await asyncio.sleep(0.05)
            self.lag.append(time.monotonic() - t0 - 0.05)

    async def keep_for(self, students: list[Student], seconds: float) -> list[asyncio.Task]:
        """Every student keeps one drawing every ``--every`` seconds, each at its own moment."""
        every, t0 = self.args.every, time.monotonic()
        tasks: list[asyncio.Task] = []

        async def one(student: Student):
            due = t0 + every * random.random()
            while due < t0 + seconds:
                await asyncio.sleep(max(0.0, due - time.monotonic()))
                tasks.append(asyncio.create_task(student.keep()))
                due += every
        await asyncio.gather(*(one(s) for s in students))
        return tasks

    async def open_all(self, students: list[Student], walls: list[Wall], spread: float) -> list[asyncio.Task]:
        """Walls first, then students arrive over ``spread`` seconds (a class does not join in one instant)."""
        lives = [asyncio.create_task(w.live()) for w in walls]

        async def arrive(s: Student):
            await asyncio.sleep(spread * random.random())
            lives.append(asyncio.create_task(s.live()))
        await asyncio.gather(*(arrive(s) for s in students))
        return lives

    async def until_ready(self, walls: list[Wall], students: list[Student], seconds: float) -> float:
        """Every page loaded and each wall showing its MNIST scores (computed once per server, in
        the background, on its first wall), or ``seconds`` passed; how long it took."""
        t0 = time.monotonic()
        while time.monotonic() < t0 + min(seconds, self.left()):
            if all(x.page and not x.page.broken for x in [*walls, *students]) and all(w.mnist_ready for w in walls):
                break
            await asyncio.sleep(0.2)
        return time.monotonic() - t0

    def left(self) -> float:
        """Seconds left before the run must wind down (the report and the server's stop come after)."""
        return self.deadline - time.monotonic()

    async def settle(self, tasks: list[asyncio.Task], seconds: float) -> None:
        """Wait for the keeps still in flight, at most ``seconds``; the rest are left unanswered."""
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=max(0.1, min(seconds, self.left())))
            for task in pending:
                task.cancel()

    def client_cpu(self) -> float:
        t = os.times()
        return t.user + t.system

    async def run(self) -> None:
        args, lag = self.args, asyncio.create_task(self.monitor_lag())
        self.deadline = time.monotonic() + args.time_limit - 15  # the report and the server's stop after
        self.port = free_port()
        await asyncio.to_thread(self.start_server)
        self.marks["first start"] = time.monotonic() - self.t0
        limits = httpx.Limits(max_connections=None, max_keepalive_connections=500)
        async with httpx.AsyncClient(limits=limits, timeout=None) as self.http:  # a browser waits
            self.ev = Events((await self.http.get(f"{self.url}config")).json())
            big, small = self.classes[0], self.classes[1:]

            # A: the class of N, its wall open; kill -9 halfway, restart, everyone reloads.
            wall = self.big_wall = Wall(self, big.code, big.wall_token)
            students = [Student(self, big.code) for _ in range(args.students)]
            lives = await self.open_all(students, [wall], 3.0)
            self.marks["A ready after"] = await self.until_ready([wall], students, 15)
            self.marks["A start"] = time.time()
            cpu0, me0, w_start = self.cpu(), self.client_cpu(), time.time()
            keeping = asyncio.create_task(self.keep_for(students, args.seconds))
            if not args.no_restart:
                await asyncio.sleep(args.seconds / 2)
                self.windows["A before the kill"] = Window("A before the kill", w_start, time.time(),
                                                           self.cpu() - cpu0)
                self.marks["kill"] = time.time()
                os.kill(self.proc.pid, signal.SIGKILL)
                await asyncio.to_thread(self.proc.wait)
                await asyncio.to_thread(self.start_server)
                self.marks["restarted"] = time.time()
                await self.until_ready([wall], students, 25)
                self.marks["A after the restart"] = time.time()
                cpu0, w_start = self.cpu(), time.time()
            tasks = await keeping
            name = "A after the restart" if not args.no_restart else "A"
            self.windows[name] = Window(name, w_start, time.time(), self.cpu() - cpu0)
            self.marks["A end"] = time.time()
            self.marks["client CPU in A"] = self.client_cpu() - me0
            await self.settle(tasks, 8)
            await asyncio.sleep(min(args.wall_grace, max(0.0, self.left())))

            # B: what one keep costs alone, one wall refresh (redrawing, and with nothing new), one
            # student timer tick and one event that does nothing; less the idle server's own rate.
            self.walls_paused = self.timers_paused = True
            await asyncio.sleep(3)
            joined = [s for s in students if s.in_class and s.page and not s.page.broken]
            n = args.refreshes
            if self.left() > args.isolation_seconds + 45 and joined:
                with self.window("B idle"):
                    await asyncio.sleep(args.idle_seconds)
                with self.window("B keeps alone"):
                    await self.settle(await self.keep_for(joined, args.isolation_seconds), 5)
                b = self.windows["B keeps alone"]
                b.keeps = sum(1 for k in self.keeps
                              if k.code == big.code and not k.repeat and b.start <= k.sent < b.end)
                if wall.page and not wall.page.broken:
                    with self.window("B wall redraws"):
                        redrawn = 0
                        for i in range(n):  # a keep, then a refresh that must redraw; a different student
                            await joined[i % len(joined)].keep()  # each time (each may keep 4 a second)
                            redrawn += await wall.tick()
                    self.windows["B wall redraws"].redraws = redrawn
                    self.marks["B class size"] = wall.seen[-1].count if wall.seen else 0
                    with self.window("B wall, nothing new"):
                        for _ in range(n):
                            await wall.tick()
                page = joined[0].page
                if page and not page.broken and self.ev.nothing:
                    with self.window("B student timer ticks"):
                        for _ in range(n):
                            await joined[0].tick(page)
                    with self.window("B an event that does nothing"):
                        for _ in range(n):
                            with contextlib.suppress(Broken, TimeoutError):
                                await page.call(self.ev.nothing, self.ev.inputs(self.ev.nothing), None,
                                                self.ev.nothing[1]["targets"][0][0])
            for x in [wall, *students]:
                if x.page:
                    x.page.close()
            for live in lives:
                live.cancel()
            self.walls_paused = self.timers_paused = False

            # C: several classes at once, each with its wall, for as long as the time left allows.
            seconds = min(args.five_seconds, self.left() - 22)
            if args.classes and seconds >= 10:
                self.marks["C seconds"] = seconds
                walls = self.small_walls = [Wall(self, c.code, c.wall_token) for c in small]
                crowd = [Student(self, c.code) for c in small for _ in range(args.class_size)]
                lives = await self.open_all(crowd, walls, 6.0)
                self.marks["C ready after"] = await self.until_ready(walls, crowd, 8)
                self.marks["C start"] = time.time()
                with self.window("C"):
                    tasks = await self.keep_for(crowd, seconds)
                self.marks["C end"] = time.time()
                await self.settle(tasks, 6)
                await asyncio.sleep(min(args.wall_grace, max(0.0, self.left())))
                for x in [*walls, *crowd]:
                    if x.page:
                        x.page.close()
                for live in lives:
                    live.cancel()
            self.closing = True
        lag.cancel()
