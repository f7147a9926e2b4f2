"""Every command that README.md and docs/*.md show works as typed.

The commands are read from the pages themselves: every line of a ```bash block (and of a block
with no language whose lines are commands), and every inline `code` that is a command line
(``python …``, ``bash …``, ``VAR=value python …``). ``COMMANDS`` below says, for each one, how
it runs here: word for word where that is quick; with ``--dry-run`` or a small ``--limit`` where
it trains for minutes; with real files (the project's own exporters' IDX pair and zip of PNGs, a
class's export) in place of a placeholder such as ``my-digits-…``; with a temporary ``--out``
instead of ``runs`` or ``weights`` (``weights/`` is hashed before and after each run); a server
started on a free port until it answers HTTP, then stopped; a benchmark's arguments read by its
own parser (each measures for minutes); or not at all, with the reason. A command the table does
not know fails ``test_every_command_in_the_docs_has_a_row``: a new command in the docs comes with
its row, so it cannot go untested.
"""

from __future__ import annotations

import hashlib
import importlib
import itertools
import os
import re
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from benchmarks.harness.launcher import free_port, stop, wait_until_answering

REPO = Path(__file__).resolve().parents[1]
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
PROGRAMS = ("python", "python3", "bash", "node", "pip", "git", "export")  # what a command line starts with
TIMEOUT = 180  # seconds for one command; the slowest here takes about ten


# ---------------------------------------------------------------------------- the commands the docs show


def words(command: str) -> list[str]:
    """The command's words after any VAR=value settings in front of it."""
    parts = shlex.split(command)
    while parts and re.fullmatch(r"[A-Z_][A-Z0-9_]*=\S*", parts[0]):
        parts = parts[1:]
    return parts


def is_command(text: str) -> bool:
    try:
        parts = words(text)
    except ValueError:  # unbalanced quotes: prose, not a command
        return False
    return bool(parts) and parts[0] in PROGRAMS and len(parts) > 1 or text in ("python app.py",)


def block_commands(body: str) -> list[str]:
    """A fenced block's command lines: continuations joined, comments and extra spaces dropped."""
    lines, commands = body.replace("\\\n", " ").splitlines(), []
    for line in lines:
        line = re.sub(r"\s+#.*$", "", line).strip()
        if line and is_command(line):
            commands.append(" ".join(line.split()))
    return commands


def doc_commands() -> dict[str, list[str]]:
    """Every command line in the docs, and the pages that show it."""
    found: dict[str, list[str]] = {}
    for page in PAGES:
        text = page.read_text()
        for lang, body in re.findall(r"```(\w*)\n(.*?)```", text, re.S):
            if lang in ("bash", "sh", "shell", ""):
                for command in block_commands(body):
                    found.setdefault(command, []).append(page.name)
        prose = re.sub(r"```.*?```", "", text, flags=re.S)
        for span in re.findall(r"`([^`\n]+)`", prose):
            if is_command(span):
                found.setdefault(" ".join(span.split()), []).append(page.name)
    return found


# ---------------------------------------------------------------------------- how each one runs


@dataclass(frozen=True)
class Run:
    """Run as a subprocess, as typed: each of ``runs_as`` (None: word for word), after its
    {placeholders} are filled in (see ``placeholders``); it must exit 0. ``env``: variables added,
    also filled in. ``why``: what differs from the page, and why."""

    runs_as: tuple[str | None, ...] = (None,)
    why: str = "word for word"
    env: dict[str, str] = field(default_factory=dict)
    # Seconds of training each (the fine-tunes, the CLI's recipes): every .ci/run runs them, the quick
    # loop (which keeps `--model linear --dry-run` for the command line) does not.
    slow: bool = False


@dataclass(frozen=True)
class Serve:
    """Start it on a free port (GRADIO_SERVER_PORT, which --port defaults to, so the command stays
    as typed), wait until it answers HTTP, stop it. Slow: the app builds every tab first."""

    runs_as: str | None = None
    why: str = "started until it answers HTTP, then stopped"
    env: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Flags:
    """A benchmark, which measures for minutes: its own parser reads the arguments as typed (an
    option the docs name that it lacks fails), in one process for all of them."""

    env: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RunBy:
    """Run as typed, as a subprocess, by another test, or by the launcher of the tests' app
    servers, whose ``COMMAND`` it is (so it runs once). A VAR=value in front of it must be set in
    this run's environment, which those subprocesses inherit."""

    module: str
    why: str = "word for word"


@dataclass(frozen=True)
class NotRun:
    why: str


FINE_TUNE = ("python -m mnist_demo.train --model {model} --preset fine-tune --init shipped --own-digits {files} "
             "--out {out}")
INSTALLS = NotRun("installs packages into a virtual environment")
WHOLE_SUITE = NotRun("installs the test tools and runs the whole suite, this file included")
APP_SERVERS = ("every app server the suite starts (the shared ones, the lesson's, a Space's): these words, "
               "its port in GRADIO_SERVER_PORT (which --port defaults to), its environment this run's with a data "
               "folder of its own added (MNIST_DATA_DIR); the row below starts one on the default data folder")
COLLECT = "collects only (running the suite from inside it would run this file again): checks the file and markers"

COMMANDS: dict[str, Run | RunBy | Serve | Flags | NotRun] = {
    # README: run it
    "python3 -m venv .venv && . .venv/bin/activate && pip install -r requirements.txt && python app.py": INSTALLS,
    "python app.py": RunBy("benchmarks.harness.launcher", APP_SERVERS),
    "python app.py --host 0.0.0.0": Serve(),
    "MNIST_DIR=/path/to/mnist python app.py": RunBy("benchmarks.harness.launcher",
                                                    APP_SERVERS + ", given the real MNIST folder in MNIST_DIR"),
    "python app.py --help": Run(),
    "python app.py [--host] [--port] [--share]": Run(("python app.py --help",), "a synopsis of its options: --help"),
    # README: classes, docs/classes.md
    "python -m mnist_demo.class_host": Run(("python -m mnist_demo.class_host --help",),
                                           "names the tool in a sentence; without a command it prints its usage "
                                           "and exits 2, so --help"),
    "python -m mnist_demo.class_host list": Run(env={"MNIST_DATA_DIR": "{class_dir}"}, why="on a data folder "
                                                "holding two real classes"),
    "python -m mnist_demo.class_host teacher-link KX47PD --url http://192.168.1.20:7860": Run(
        ("python -m mnist_demo.class_host teacher-link {class_code} --url http://192.168.1.20:7860",),
        "a real class's code for the example's", env={"MNIST_DATA_DIR": "{class_dir}"}),
    "python -m mnist_demo.class_host end KX47PD": Run(
        ("python -m mnist_demo.class_host end {other_code}",), "the other real class's code for the example's",
        env={"MNIST_DATA_DIR": "{class_dir}"}),
    "python -m mnist_demo.class_host expire": Run(env={"MNIST_DATA_DIR": "{class_dir}"},
                                                  why="on the data folder of the two classes"),
    # README: tests, docs/testing.md, docs/accessibility.md
    "bash .ci/run": WHOLE_SUITE,
    "bash .ci/run --quick": NotRun("installs the test tools and runs the quick subset of this suite, this file "
                                   "included; its selection is the quick loop's below, which is collected"),
    'python -m pytest -m "not browser and not slow"': Run(
        ('python -m pytest -m "not browser and not slow" --collect-only -q tests/test_imports.py',), COLLECT),
    "python -m pytest": NotRun("the whole suite, this file included"),
    "python -m pytest tests/test_accessibility.py": Run(
        ("python -m pytest tests/test_accessibility.py --collect-only -q",), COLLECT),
    "node --test tests/js/": RunBy("tests.test_page_js"),
    "node --test": RunBy("tests.test_page_js", "layout.md names the runner of tests/js/, the row it is in"),
    # README: retraining, docs/training.md, docs/own-digits.md, docs/settings.md, docs/api.md
    "python -m mnist_demo.train --help": Run(),
    "python -m mnist_demo.train": Run(("python -m mnist_demo.train --dry-run --out {out}",),
                                      "trains both models for minutes: --dry-run, into a temporary --out", slow=True),
    "python -m mnist_demo.train --model cnn --preset fast --target-acc 0.95 --out runs": Run(
        ("python -m mnist_demo.train --model cnn --preset fast --target-acc 0.95 --out {out} --limit 1000",),
        "--limit 1000, into a temporary --out", slow=True),
    "python -m mnist_demo.train --model cnn --preset fast --target-acc 0.95": Run(
        ("python -m mnist_demo.train --model cnn --preset fast --target-acc 0.95 --dry-run --out {out}",),
        "--dry-run, with a temporary --out (it would write runs/)", slow=True),
    "python -m mnist_demo.train --model linear --dry-run": Run(
        ("python -m mnist_demo.train --model linear --dry-run --out {out}",),
        "as typed, but with a temporary --out"),
    "python -m mnist_demo.train --model cnn --preset fine-tune --init shipped --own-digits "
    "my-digits-…-images-idx3-ubyte.gz my-digits-…-labels-idx1-ubyte.gz --out runs": Run(
        (FINE_TUNE.format(model="cnn", files="{images} {labels}", out="{out}") + " --limit 1000",),
        "an exported IDX pair, --limit 1000, a temporary --out (the zip of PNGs that --own-digits takes too: "
        "tests/test_digit_files.py reads both to the same digits; --model both: the bare command's row)", slow=True),
    "python -m mnist_demo.train --model cnn --preset fine-tune --init shipped --own-digits "
    "my-digits-…-images-idx3-ubyte.gz --out runs": Run(
        (FINE_TUNE.format(model="cnn", files="{class_images}", out="{out}") + " --dry-run",),
        "a class's exported images file (its labels file beside it), --dry-run, a temporary --out", slow=True),
    "python -m mnist_demo.train --model linear --preset tutorial --out weights": Run(
        ("python -m mnist_demo.train --model linear --preset tutorial --out {out} --dry-run",),
        "--dry-run, and never into weights/: a temporary --out", slow=True),
    "python -m mnist_demo.train --model cnn --preset one-cycle --out weights": Run(
        ("python -m mnist_demo.train --model cnn --preset one-cycle --out {out} --dry-run",),
        "--dry-run, and never into weights/: a temporary --out", slow=True),
    "python -m mnist_demo.train --model cnn --preset one-cycle --epochs E --lr L --batch-size B [--seed S]": Run(
        ("python -m mnist_demo.train --model cnn --preset one-cycle --epochs 1 --lr 0.01 --batch-size 64 --seed 1 "
         "--dry-run --out {out}",), "E, L, B and S filled in, --dry-run, a temporary --out", slow=True),
    "export MNIST_DIR=/path/to/mnist": Run(("bash -c 'export MNIST_DIR={mnist_dir}'",),
                                           "in bash, with the real folder"),
    # docs/hosting.md
    "git remote add space https://huggingface.co/spaces/<you>/<name>": NotRun("adds a remote to your repository"),
    "git push space HEAD:main": NotRun("pushes to a Hugging Face Space (your account)"),
    "pip install torch==2.11.0 --index-url https://download.pytorch.org/whl/cpu": INSTALLS,
    "python3 -m venv .venv && . .venv/bin/activate && pip install -r requirements.txt": INSTALLS,
    "python -m benchmarks.<name>": NotRun("a pattern for every benchmark: tests/test_cli.py runs each one's --help"),
    "python -m benchmarks.training_cost --only-asks": Run(why="word for word: it only prints what each recipe asks"),
    # the benchmarks: docs/api.md, classes.md, hosting.md, own-digits.md, page.md, preprocessing.md, training.md
    "python -m benchmarks.predict_latency": Flags(),
    "python -m benchmarks.predict_latency --during-training --startup": Flags(),
    "python -m benchmarks.load": Flags(),
    "python -m benchmarks.load --trainings 1": Flags(),
    "python -m benchmarks.class_load": Flags(),
    "python -m benchmarks.class_load --students 30 --seconds 20 --no-restart --classes 0": Flags(),
    "python -m benchmarks.attacks": Flags(),
    "python -m benchmarks.idle_pages": Flags(),
    "python -m benchmarks.gradio_import": Flags(),
    "python -m benchmarks.training_cost": Flags(),
    "python -m benchmarks.training_cost --device cuda": Flags(),
    "python -m benchmarks.stroke_cost --class-size 30": Flags(),
    "python -m benchmarks.concurrent_training": Flags(),
    "python -m benchmarks.batched_training": Flags(),
    "python -m benchmarks.train_speed": Flags(),
    "python -m benchmarks.page_training": Flags(),
    "python -m benchmarks.page_training --model linear": Flags(),
    "python -m benchmarks.page_training --browser": Flags(),
    "python -m benchmarks.page_training_run": Flags(),
    "python -m benchmarks.page_training_run --model linear": Flags(),
    "python -m benchmarks.page_training_app": Flags(),
    "python -m benchmarks.page_training_app --seeds 0,1,2": Flags(),
    "python -m benchmarks.page_training_app --model linear": Flags(),
    "python -m benchmarks.page_training_app --model linear --pages 10": Flags(),
    "python -m benchmarks.page_training_app --throttle 4": Flags(),
    "python -m benchmarks.page_training_app --throttle 4 --workers 1": Flags(),
    "python -m benchmarks.train_speed --only-fast": Flags(),
    "python -m benchmarks.own_digits": Flags(),
    "python -m benchmarks.own_digits --sizes 20,400 --seeds 0": Flags(),
    "python -m benchmarks.drawn_accuracy": Flags(),
    "MNIST_DIR=/path/to/idx python -m benchmarks.cli_startup": Flags(env={"MNIST_DIR": "{mnist_dir}"}),
}


def test_every_command_in_the_docs_has_a_row():
    shown = doc_commands()
    unknown = {c: pages for c, pages in shown.items() if c not in COMMANDS}
    assert not unknown, "commands in the docs that COMMANDS does not say how to run: " + "; ".join(
        f"{c!r} ({', '.join(sorted(set(p)))})" for c, p in unknown.items())
    stale = set(COMMANDS) - set(shown)
    assert not stale, f"rows for commands no page shows any more: {sorted(stale)}"


def test_the_reader_finds_commands_in_blocks_and_prose():
    """The test above could pass by finding nothing: the reader must see each way a page shows one."""
    body = "python -m a --x \\\n    --y 1   # a comment\nnot a command\nMNIST_DIR=/d python app.py\n"
    assert block_commands(body) == ["python -m a --x --y 1", "MNIST_DIR=/d python app.py"]
    assert is_command("python app.py") and not is_command("MNIST_DIR=/path") and not is_command("python")
    assert len(doc_commands()) >= 40


def test_readme_run_it_says_where_mnist_comes_from():
    run_it = (REPO / "README.md").read_text().split("## Run it", 1)[1].split("\n## ", 1)[0]
    for said in ("OpenML", "downloaded once", "cached", "MNIST_DIR=/path/to/mnist python app.py"):
        assert said in run_it, said


# ---------------------------------------------------------------------------- real files for the placeholders


def tree_hash(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []:
        digest.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


@pytest.fixture(scope="module")
def placeholders(mnist, tmp_path_factory) -> dict[str, str]:
    """Real files and a real data folder for the docs' placeholders: 40 digits exported as the Your
    digits tab exports them (the IDX pair), and a class with 40 drawings in a
    classroom database, exported as the Class tab does (the same writers, on the class's digits)."""
    from mnist_demo.classes.store import Classroom, to_digits
    from mnist_demo.collection import Digits
    from mnist_demo.digit_files import write_idx_pair

    root = tmp_path_factory.mktemp("docs-commands")
    pixels, labels = (mnist.x_valid[:40] * 256).astype(np.uint8), mnist.y_valid[:40].astype(np.uint8)
    mine = Digits(pixels, labels, np.arange(40, dtype=np.int64))
    images, label_file = write_idx_pair(mine, root, "my-digits-20260101-120000")
    class_dir = root / "app-data"
    # A second between two drawings, as a student keeps them (the class refuses more than 4 a second).
    with Classroom(class_dir, clock=itertools.count(time.time() - 3600).__next__) as room:
        ours, other = room.create_class(), room.create_class()
        student = room.join(ours.code, "docs")
        for i, (row, label) in enumerate(zip(pixels, labels, strict=True)):
            room.add_drawing(ours.code, student, i + 1, int(label), int(label), int(label), row.tobytes())
        (root / "class").mkdir()
        class_images, _ = write_idx_pair(to_digits(room.drawings(ours.code)), root / "class", f"class-{ours.code}")
    return {"images": str(images), "labels": str(label_file),
            "class_images": str(class_images), "class_dir": str(class_dir), "class_code": ours.code,
            "other_code": other.code, "mnist_dir": os.environ["MNIST_DIR"]}


def argv_and_env(command: str, env: dict[str, str], fill: dict[str, str]) -> tuple[list[str], dict[str, str]]:
    """The command as a process: leading VAR=value into its environment, python as this one."""
    parts = shlex.split(command.format(**fill))
    extra = {k: v.format(**fill) for k, v in env.items()}
    while re.fullmatch(r"[A-Z_][A-Z0-9_]*=\S*", parts[0]):
        name, value = parts.pop(0).split("=", 1)
        extra[name] = value
    if parts[0] in ("python", "python3"):
        parts[0] = sys.executable
    env = {k: v for k, v in os.environ.items() if k != "MNIST_GATE"}  # the docs' pytest commands narrow on purpose
    return parts, {**env, "GRADIO_ANALYTICS_ENABLED": "False", **extra}


def ids(kind) -> list:
    return [pytest.param(c, h, id=c[:100]) for c, h in COMMANDS.items() if isinstance(h, kind)]


def each_run() -> list:
    """(command, row, one of its runs_as), each a test of its own; a slow row's marked so."""
    return [pytest.param(c, h, runs_as, id=f"{c[:100]}#{k}", marks=[pytest.mark.slow] if h.slow else [])
            for c, h in COMMANDS.items() if isinstance(h, Run) for k, runs_as in enumerate(h.runs_as)]


# ---------------------------------------------------------------------------- running them


@pytest.mark.parametrize("command, how, runs_as", each_run())
def test_the_command_runs(command, how, runs_as, placeholders, tmp_path):
    shipped = tree_hash(REPO / "weights"), tree_hash(REPO / "runs")
    out = tmp_path / "out"
    argv, env = argv_and_env(runs_as or command, how.env, {**placeholders, "out": str(out)})
    done = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=TIMEOUT)
    assert done.returncode == 0, f"{' '.join(argv)} ({how.why}) exited {done.returncode}:\n" \
                                 f"{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    if "{out}" in (runs_as or "") and "--dry-run" not in runs_as:
        assert list(out.glob("*.safetensors")), f"{runs_as}: wrote no weights"
    if "--own-digits" in (runs_as or ""):  # the fine-tune on your digits ran to its end
        assert "your digits: " in done.stdout and "adaptive fine-tune" in done.stdout, done.stdout
    assert (tree_hash(REPO / "weights"), tree_hash(REPO / "runs")) == shipped, "weights/ or runs/ changed"


@pytest.mark.parametrize("command, how", ids(RunBy))
def test_the_command_another_test_runs_is_its_command(command, how):
    """The other test runs the command as the docs type it (or the runner the prose names), word for word."""
    runs = importlib.import_module(how.module).COMMAND
    assert runs[:len(words(command))] == words(command), (how.module, runs)
    for setting in shlex.split(command)[:-len(words(command))]:  # VAR=value in front of it
        name = setting.split("=", 1)[0]
        assert os.environ.get(name), f"{command}: {name} is not set in this run, so its subprocesses lack it"
    if "MNIST_DIR=" in command:  # a real folder, as the page's /path/to/mnist stands for
        assert (Path(os.environ["MNIST_DIR"]) / "train-images-idx3-ubyte.gz").is_file()


def test_the_launcher_starts_the_app_as_the_readme_types_it(monkeypatch):
    """What the rows run by the launcher rest on: the app servers are `python app.py`, nothing
    added but the port in Gradio's own variable; another program gets its --port."""
    from benchmarks.harness import launcher

    started = []
    popen = lambda argv, **kw: started.append((argv, kw["env"]))
    monkeypatch.setattr(launcher, "subprocess", SimpleNamespace(Popen=popen, STDOUT=subprocess.STDOUT,
                                                                DEVNULL=subprocess.DEVNULL))
    url, _ = launcher.start("app.py", port=7123, env={"MNIST_DATA_DIR": "/d"})
    launcher.start("-m", "benchmarks.noop_app", port=7124)
    (app, app_env), (other, _) = started
    assert app == [sys.executable, *launcher.COMMAND[1:]] and launcher.COMMAND == ["python", "app.py"]
    assert app_env["GRADIO_SERVER_PORT"] == "7123" and app_env["MNIST_DATA_DIR"] == "/d"
    assert url == "http://127.0.0.1:7123/"
    assert other == [sys.executable, "-m", "benchmarks.noop_app", "--port", "7124"]


@pytest.mark.slow  # each start builds the whole app (about ten seconds on 2 cores)
@pytest.mark.parametrize("command, how", ids(Serve))
def test_the_server_command_answers(command, how, placeholders):
    argv, env = argv_and_env(how.runs_as or command, how.env, placeholders)
    port = free_port()
    proc = subprocess.Popen(argv, cwd=REPO, env={**env, "GRADIO_SERVER_PORT": str(port)},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until_answering(f"http://127.0.0.1:{port}/", proc, timeout=TIMEOUT)
    finally:
        stop(proc)


FLAGS_CHECK = """
import importlib, sys
for line in sys.argv[1:]:
    module, *args = line.split()
    try:
        importlib.import_module(module).parser().parse_args(args)
    except SystemExit as e:
        print(f"{line}: its parser refused the arguments (exit {e.code})")
"""


def test_the_benchmark_commands_name_only_their_own_options(placeholders):
    """One process reads every documented benchmark command with that benchmark's own parser."""
    lines = []
    for command, how in COMMANDS.items():
        if isinstance(how, Flags):
            argv, _env = argv_and_env(command, how.env, placeholders)
            assert argv[:2] == [sys.executable, "-m"], command
            lines.append(" ".join(argv[2:]))
    done = subprocess.run([sys.executable, "-c", FLAGS_CHECK, *lines], cwd=REPO, capture_output=True, text=True,
                          timeout=TIMEOUT)
    assert done.returncode == 0 and not done.stdout.strip(), done.stdout + done.stderr[-3000:]
    assert len(lines) >= 15
