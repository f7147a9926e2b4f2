"""docs/layout.md, the map a newcomer reads first, matches the tree: every module and page file is
on it, and everything on it exists."""

import re
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_the_layout_table_names_every_module_and_page_file_and_nothing_else():
    text = (REPO / "docs" / "layout.md").read_text()
    named = set(re.findall(r"`(mnist_demo/[\w./]+)`", text))
    page_line = next(line for line in text.splitlines() if line.startswith("| `mnist_demo/page/`"))
    named |= {f"mnist_demo/page/{name}" for name in re.findall(r"`([\w.]+\.(?:js|css|html))`", page_line)}
    tracked = subprocess.run(["git", "ls-files", "mnist_demo"], cwd=REPO, capture_output=True, text=True, check=True)
    files = {f for f in tracked.stdout.split() if f.endswith((".py", ".js", ".css", ".html", ".json"))}
    assert files - named == set(), "not on docs/layout.md"
    assert {n for n in named if not (REPO / n).exists()} == set(), "on docs/layout.md but not in the tree"
