"""Launch a Gradio app as a user would, `python app.py` word for word as the README types it (or
`python -m MODULE --port P`), in its own process on a free loopback port; wait until it answers;
stop it afterwards. The one launcher of the tests' app servers and of the benchmarks (whose clients
must not share the server's CPU accounting or its GIL).

The app's port goes in ``GRADIO_SERVER_PORT``, Gradio's own variable, which app.py's ``--port``
defaults to (as a Space sets it): so every app server the suite starts is the README's command as
typed, and tests/test_docs_commands.py need not start it again to know that it works."""

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
COMMAND = ["python", "app.py"]  # the README's, word for word (python: this interpreter)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def launch(*command: str, log: Path | None = None, timeout: float = 90.0, port: int | None = None,
           env: dict[str, str] | None = None) -> Iterator[tuple[str, subprocess.Popen]]:
    """``python app.py`` (``launch("app.py")``) or ``python COMMAND... --port P``
    (``launch("-m", "benchmarks.noop_app")``) in the repository; yields (url, process).

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
    """Start ``python app.py`` (its port in ``GRADIO_SERVER_PORT``) or ``python COMMAND... --port P``,
    and return (url, process) at once, before it answers."""
    port = port or free_port()
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "PYTHONUNBUFFERED": "1", **(env or {}),
           "GRADIO_SERVER_PORT": str(port)}
    as_typed = list(command or COMMAND[1:]) == COMMAND[1:]
    argv = [sys.executable, *(COMMAND[1:] if as_typed else (*command, "--port", str(port)))]
    proc = subprocess.Popen(argv, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
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
                what = f"{' '.join(proc.args[1:])} at {url} (exit code {proc.poll()})" if proc else url
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


def run_cpu_seconds(argv: list[str], env: dict[str, str] | None = None) -> float:
    """Run ``argv`` in the repository to its end (it must succeed), its output dropped; returns its
    user + system CPU seconds, children included (what a fresh process costs, start to exit)."""
    before = os.times()
    subprocess.run(argv, cwd=REPO, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   env={**os.environ, **(env or {})})
    after = os.times()
    return (after.children_user - before.children_user) + (after.children_system - before.children_system)
