"""The host's commands for classes: list them, print a class's links, end a class, delete expired ones.

The logic of ``python -m mnist_demo.class_host`` (that module only runs ``main``): the parser, and
what each command prints. It works on the database the app keeps (classes.sqlite3 in its data
folder), also while the app runs: SQLite's locks keep the two apart. A teacher who lost their link
gets it back from here.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from ..settings import from_process
from .store import ClassError, Classroom, database_file, normalize_code

DEFAULT_URL = "http://127.0.0.1:7860"


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m mnist_demo.class_host", description=__doc__.split("\n")[0],
                                epilog="Each command takes --data-dir before or after its name.")
    data_help = "the app's data folder (default: $MNIST_DATA_DIR, else <project>/data, as the app reads it)"
    p.add_argument("--data-dir", help=data_help)
    # The same option after the command; SUPPRESS, so an absent one leaves the one given before it.
    data = argparse.ArgumentParser(add_help=False)
    data.add_argument("--data-dir", default=argparse.SUPPRESS, help=data_help)
    commands = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser("list", parents=[data], help="every class: code, created, expires, locked, students, drawings")
    link = commands.add_parser("teacher-link", parents=[data],
                               help="a class's teacher link (private), wall link and join link")
    link.add_argument("code", help="the class's join code")
    link.add_argument("--url", default=DEFAULT_URL,
                      help=f"the app's address as the teacher opens it (default: {DEFAULT_URL})")
    end = commands.add_parser("end", parents=[data], help="end a class now: delete its students, drawings and "
                                                          "models (it asks nothing)")
    end.add_argument("code", help="the class's join code")
    commands.add_parser("expire", parents=[data], help="delete every class whose time is up, with everything in it")
    return p


def data_folder(given: str | None) -> Path:
    if given:
        return Path(given)
    return from_process().data_dir


def when(t: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(t))


def expired(n: int) -> str:
    return f"Deleted {n} expired {'class' if n == 1 else 'classes'}."


def list_classes(room: Classroom) -> None:
    classes = room.classes()
    if not classes:
        print("No classes.")
        return
    print(f"{'code':8}{'created':18}{'expires':18}{'locked':>6}{'students':>10}{'drawings':>10}")
    for c in classes:
        print(f"{c.code:8}{when(c.created):18}{when(c.expires):18}{'yes' if c.locked else 'no':>6}"
              f"{c.students:>10,}{c.drawings:>10,}")


def links(room: Classroom, code: str, url: str) -> bool:
    teacher, wall = room.teacher_token(code), room.wall_token(code)
    if teacher is None or wall is None:
        return False
    url = url.rstrip("/")
    print(f"Teacher link (private: it opens the class's controls): {url}/?teach={teacher}")
    print(f"Wall link (for the projector: it shows the wall, nothing else): {url}/?wall={wall}")
    print(f"Join link (for students): {url}/?class={code}")
    return True


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        folder = data_folder(args.data_dir)
    except ValueError as e:  # a setting the host got wrong, named by from_process
        print(f"error: {e}", file=sys.stderr)
        return 2
    code = normalize_code(getattr(args, "code", ""))
    if not database_file(folder).exists():  # say so, rather than make an empty database somewhere unexpected
        if args.command in ("list", "expire"):
            print(f"No classes: {database_file(folder)} does not exist yet.")
            return 0
        print(f"No class has the code {code}: there are no classes in {folder}.", file=sys.stderr)
        return 1
    with Classroom(folder) as room:
        if args.command == "list":
            if room.expired_on_open:  # opening the database deletes expired classes: say so
                print(expired(room.expired_on_open))
            list_classes(room)
        elif args.command == "expire":
            print(expired(room.expired_on_open + room.expire()))
        elif args.command == "teacher-link" and not links(room, code, args.url):
            print(f"No live class has the code {code}.", file=sys.stderr)
            return 1
        elif args.command == "end":
            try:
                ended = room.end_class(code)
            except ClassError:
                print(f"No live class has the code {code}.", file=sys.stderr)
                return 1
            print(f"Ended class {code}: deleted its {ended.drawings:,} drawings, {ended.students:,} students "
                  "and any model it had.")
    return 0

