"""Exit 0 when every pin in a requirements file (and the files it includes with -r) is installed
at its version, for this Python; else 1, so that .ci/run asks pip only when pip has work to do.
A check that cannot tell (no `packaging` on a bare machine, a line it cannot read) says so and
exits 1: pip then decides, as it always did."""

import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path


def pins(path: Path):
    for line in path.read_text().splitlines():
        line = line.split(" #")[0].strip()
        if line.startswith("-r "):
            yield from pins(path.parent / line[3:].strip())
        elif line and not line.startswith("#"):
            yield line


def main(path: str) -> int:
    try:
        from packaging.requirements import Requirement

        wanted = [r for r in map(Requirement, pins(Path(path))) if r.marker is None or r.marker.evaluate()]
        return int(any(not r.specifier.contains(version(r.name), prereleases=True) for r in wanted))
    except PackageNotFoundError:
        return 1
    except Exception as e:  # the check itself failed
        print(f"(the pin check could not tell, {type(e).__name__}: {e}; pip will)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
