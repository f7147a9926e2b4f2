"""How the package's modules import each other.

An entry point (a module run as ``python -m mnist_demo.train``) is loaded as ``__main__``; a module
that imports it by name loads it a second time, with its own copy of every class in it, and an
event made by one copy is no instance of the other's (the CLI's fine-tune crashed on exactly that).
So no module of the package or of the benchmarks imports an entry point. Read from the source with
``ast``: a lazy import inside a function counts as much as one at the top.
"""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("mnist_demo", "benchmarks")


def module_name(path: Path) -> str:
    return ".".join(path.relative_to(REPO).with_suffix("").parts)


def sources() -> dict[str, ast.Module]:
    """Every module of the packages, subpackages (``mnist_demo.classes``) included."""
    return {module_name(p): ast.parse(p.read_text(), str(p)) for package in PACKAGES
            for p in sorted((REPO / package).rglob("*.py"))}


def runs_as_main(tree: ast.Module) -> bool:
    """The module has an ``if __name__ == "__main__":`` block: it is an entry point."""
    return any(isinstance(node, ast.If) and isinstance(node.test, ast.Compare)
               and isinstance(node.test.left, ast.Name) and node.test.left.id == "__name__"
               and any(isinstance(c, ast.Constant) and c.value == "__main__" for c in node.test.comparators)
               for node in tree.body)


def imported(module: str, tree: ast.Module) -> set[str]:
    """Every module ``module`` imports, anywhere in it, as absolute names (``from . import x``
    counts as importing ``package.x``, which it may be)."""
    package = module.rpartition(".")[0]
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: level 1 is the module's own package
                parts = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def test_the_entry_points_are_found():
    entry = {name for name, tree in sources().items() if runs_as_main(tree)}
    assert {"mnist_demo.train", "mnist_demo.class_host", "benchmarks.predict_latency"} <= entry
    assert "mnist_demo.training" not in entry and "mnist_demo.presets" not in entry


def test_no_module_imports_an_entry_point():
    trees = sources()
    entry = {name for name, tree in trees.items() if runs_as_main(tree)} | {"app"}  # app.py: `python app.py`
    wrong = {f"{name} imports {target}" for name, tree in trees.items() for target in imported(name, tree) & entry}
    assert not wrong, "an entry point is imported (move what is shared into a module of its own): " + \
        "; ".join(sorted(wrong))


def test_no_import_circle():
    """No module imports one that imports it back, however far round: each file can be read, and
    loaded, after the ones it names. (A package's ``__init__`` goes by the package's name.)"""
    trees = {name.removesuffix(".__init__"): (name, tree) for name, tree in sources().items()}
    graph = {m: {t for t in imported(name, tree) if t in trees and t != m} for m, (name, tree) in trees.items()}
    done, path = set(), []

    def visit(m):
        if m in path:
            raise AssertionError("an import circle: " + " -> ".join([*path[path.index(m):], m]))
        if m not in done:
            path.append(m)
            for target in sorted(graph[m]):
                visit(target)
            path.pop()
            done.add(m)

    for m in sorted(graph):
        visit(m)


def test_the_check_sees_an_import_of_an_entry_point():
    """The test above could pass by seeing nothing: its reader must catch each way of writing it."""
    for line in ("from mnist_demo.train import main", "import mnist_demo.train", "from .train import main",
                 "from . import train", "def f():\n    from .train import parse_args"):
        assert "mnist_demo.train" in imported("mnist_demo.finetune", ast.parse(line)), line


@pytest.mark.parametrize("module", ["mnist_demo.presets", "mnist_demo.settings", "mnist_demo.train"])
def test_the_recipes_and_settings_load_without_torch(module):
    """settings.py (the app's start, the host's tools) and anything needing only TrainConfig's
    names and bounds do not pay for torch's import; nor does the trainer's command line until it
    has read its arguments (--help and a wrong flag answer at once)."""
    done = subprocess.run([sys.executable, "-c", f"import sys, {module}; print('torch' in sys.modules)"],
                          cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


def test_benchmarks_import_nothing_from_the_tests():
    """The benchmarks run on their own (`python -m benchmarks.<name>`), without the test suite's
    conftest or helpers: what both need is in benchmarks/harness/, which tests import instead."""
    found = {}
    for path in sorted((REPO / "benchmarks").rglob("*.py")):
        name = module_name(path)
        hits = {n for n in imported(name, ast.parse(path.read_text(), str(path))) if n == "tests" or
                n.startswith("tests.")}
        if hits:
            found[name] = sorted(hits)
    assert found == {}
    assert not (REPO / "tests" / "app_launcher.py").exists()  # moved, not copied
    harness = {module_name(p) for p in (REPO / "benchmarks" / "harness").glob("*.py")}
    assert {"benchmarks.harness.launcher", "benchmarks.harness.pad", "benchmarks.harness.digits"} <= harness
