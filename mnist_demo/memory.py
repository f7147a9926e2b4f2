"""Memory the process no longer uses, given back to the system, and how much it holds: glibc keeps
what a large request freed (in each thread's arena) until asked. Plain ctypes, so that any module
can use it without importing the app's heavier parts."""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import threading


def _libc():
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return libc if hasattr(libc, "malloc_trim") else None
    except OSError:
        return None


_LIBC = _libc()
_trim_lock = threading.Lock()


def give_back_memory() -> bool:
    """Return the C heap's free memory to the system (glibc ``malloc_trim(0)``: every arena, not
    just the main one). True when something was given back; False where there is no glibc."""
    if _LIBC is None:
        return False
    with _trim_lock:  # one trim at a time; a second caller would find nothing left to give
        return bool(_LIBC.malloc_trim(0))


def rss_bytes() -> int:
    """This process's resident memory now (Linux; 0 elsewhere)."""
    return _status_field("VmRSS")


def _status_field(name: str) -> int:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(name + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def gives_back_memory(fn):
    """Decorate an event handler that may allocate a lot (a picture decoded, files imported):
    after it returns or raises, freed memory goes back to the system."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        finally:
            give_back_memory()

    return wrapper
