"""Launch a Gradio app as a user would, `python app.py --port P` (or `python -m MODULE --port P`),
in its own process on a free loopback port; wait until it answers; stop it afterwards. The one launcher of the tests'
``app_url`` fixture and of the benchmarks (whose clients must not share the server's CPU
accounting or its GIL)."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]  # benchmarks/harness/launcher.py: the repository


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def launch(*command: str, log: Path | None = None, timeout: float = 90.0, port: int | None = None,
           env: dict[str, str] | None = None) -> Iterator[tuple[str, subprocess.Popen]]:
    """``python COMMAND... --port P`` in the repository (``launch("app.py")``,
    ``launch("-m", "benchmarks.noop_app")``); yields (url, process).

    The process's output goes to ``log`` (a file path) or nowhere. RuntimeError if it exits or
    does not answer within ``timeout`` seconds; terminated (then killed) on exit. ``port``: a
    given one (a restart at the same address, as a browser's storage is kept per address). ``env``:
    variables added to this process's (a Space's, for instance)."""
    with contextlib.ExitStack() as stack:
        out = stack.enter_context(open(log, "w")) if log else subprocess.DEVNULL
        url, proc = start(*command, out=out, port=port, env=env)
        stack.callback(stop, proc)
        wait_until_answering(url, proc, timeout)
        yield url, proc


def start(*command: str, out=subprocess.DEVNULL, port: int | None = None,
          env: dict[str, str] | None = None) -> tuple[str, subprocess.Popen]:
    """Start ``python COMMAND... --port P`` and return (url, process) at once, before it answers."""
    port = port or free_port()
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "PYTHONUNBUFFERED": "1", **(env or {})}
    proc = subprocess.Popen([sys.executable, *(command or ("app.py",)), "--port", str(port)], cwd=REPO, env=env,
                            stdout=out, stderr=subprocess.STDOUT)
    return f"http://127.0.0.1:{port}/", proc


def wait_until_answering(url: str, proc: subprocess.Popen | None = None, timeout: float = 90.0) -> None:
    """Until ``url`` answers; RuntimeError if ``proc`` (when given) exits first, or after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except OSError:
            if (proc and proc.poll() is not None) or time.monotonic() > deadline:
                what = f"{' '.join(proc.args[1:])} (exit code {proc.poll()})" if proc else url
                raise RuntimeError(f"{what} did not answer within {timeout:.0f} s") from None
            time.sleep(0.2)


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def cpu_seconds(pid: int) -> float:
    """A process's user + system CPU time so far, all threads (Linux's /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
