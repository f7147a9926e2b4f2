"""Memory given back to the system after a large allocation (glibc's malloc_trim)."""

import sys

import pytest

from mnist_demo.memory import give_back_memory, gives_back_memory, rss_bytes


def test_memory_is_given_back():
    if not sys.platform.startswith("linux"):
        pytest.skip("glibc only")

    @gives_back_memory
    def allocate():
        blocks = [bytearray(64 * 1024) for _ in range(4000)]  # 256 MB in small blocks: kept by the heap
        del blocks[:-1]  # the last one pins the top of the heap: only malloc_trim gets the rest back
        return blocks

    give_back_memory()
    before = rss_bytes()
    keep = allocate()
    after = rss_bytes()
    assert after - before < 64 * 1024 * 1024, (before, after)
    del keep
