"""A visitor's own digits: kept in memory for their browser session only, as MNIST keeps its own
(28x28 bytes, 0..255, read as pixels / 256 like the training data), at most ``CAP`` of them.

A fixed share of each digit's drawings is held out of fine-tuning, so that a model's accuracy on
them before and after says something honest. The rule depends only on the order in which a
digit's drawings were kept, so a digit held out stays held out as more are added.
"""

from __future__ import annotations

import bz2
import secrets
import threading
from dataclasses import dataclass

import numpy as np

from .data import IMAGE_SIDE, PIXEL_SCALE

CAP = 2000  # digits per collection: enough for a class's pooled drawings, small in memory (1.6 MB)
HOLD_OUT_EVERY = 4  # one drawing in four of each digit is held out
PIXELS = IMAGE_SIDE * IMAGE_SIDE


class CollectionError(ValueError):
    """The change was refused (full, bad digit, bad label); the collection is unchanged."""


def to_bytes(digit) -> np.ndarray:
    """A digit as the page or ``preprocess`` gives it (784 floats in [0, 1]) as MNIST's 784 bytes."""
    digit = np.asarray(digit, dtype=np.float64).reshape(-1)
    if digit.shape != (PIXELS,) or not np.isfinite(digit).all():
        raise CollectionError(f"A digit is {PIXELS} numbers (28x28).")
    return np.clip(np.rint(digit * PIXEL_SCALE), 0, 255).astype(np.uint8)


def held_out(labels: np.ndarray) -> np.ndarray:
    """Which digits are held out of fine-tuning: one in HOLD_OUT_EVERY of each label, by the order
    kept. Each label starts its count at a different phase (rank + label), so that a few drawings
    per digit give about a quarter overall, never more: a fixed phase would hold out the 2nd of
    every digit, half of a collection kept two per digit."""
    labels = np.asarray(labels)
    rank = np.zeros(len(labels), dtype=np.int64)
    for label in np.unique(labels):
        where = np.flatnonzero(labels == label)
        rank[where] = np.arange(len(where))
    return (rank + labels.astype(np.int64)) % HOLD_OUT_EVERY == HOLD_OUT_EVERY - 1


@dataclass(frozen=True)
class Digits:
    """A snapshot of a collection: what readers use while the collection itself may change."""
    pixels: np.ndarray  # (N, 784) uint8
    labels: np.ndarray  # (N,) uint8
    ids: np.ndarray  # (N,) int64, stable for the session: what "delete" names

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def x(self) -> np.ndarray:
        """(N, 784) float32, scaled exactly as ``mnist_demo.data`` scales MNIST."""
        return self.pixels.astype(np.float32) * np.float32(1 / PIXEL_SCALE)

    @property
    def y(self) -> np.ndarray:
        return self.labels.astype(np.int64)

    def counts(self) -> np.ndarray:
        return np.bincount(self.labels, minlength=10)

    def part(self, mask: np.ndarray) -> Digits:
        return Digits(self.pixels[mask], self.labels[mask], self.ids[mask])

    def split(self) -> tuple[Digits, Digits]:
        """(digits to fine-tune on, digits held out to judge the fine-tune)."""
        mask = held_out(self.labels)
        return self.part(~mask), self.part(mask)


EMPTY = Digits(np.zeros((0, PIXELS), np.uint8), np.zeros(0, np.uint8), np.zeros(0, np.int64))


def checked(pixels, labels) -> tuple[np.ndarray, np.ndarray]:
    """(N, 784) uint8 digits and N labels from 0 to 9, or CollectionError saying what is wrong."""
    pixels = np.asarray(pixels)
    labels = np.asarray(labels)
    if pixels.dtype != np.uint8 or pixels.ndim != 2 or pixels.shape[1] != PIXELS or len(pixels) != len(labels):
        raise CollectionError("Expected digits as 28x28 bytes, one label each.")
    if labels.size and (labels.dtype.kind not in "iu" or labels.ndim != 1 or labels.min() < 0 or labels.max() > 9):
        raise CollectionError("A digit's label must be a whole number from 0 to 9.")
    return pixels, labels


GONE = 4 * CAP  # deleted ids a collection remembers (Collection._forget)
MAX_ID = 2**53  # ids are made on the device (page/store.js): whole numbers exact in JSON and in float64


def new_ids(n: int, taken: set[int]) -> np.ndarray:
    """``n`` fresh random ids, none in ``taken``: a stale delete never hits another digit."""
    ids: list[int] = []
    while len(ids) < n:
        candidate = secrets.randbelow(MAX_ID)
        if candidate not in taken:
            taken.add(candidate)
            ids.append(candidate)
    return np.array(ids, dtype=np.int64)


def checked_ids(ids, n: int) -> np.ndarray:
    """``n`` ids from the page: whole numbers from 0 to 2**53, or CollectionError."""
    ids = np.asarray(ids)
    if ids.shape != (n,) or (n and (ids.dtype.kind not in "iu" or ids.min() < 0 or ids.max() >= MAX_ID)):
        raise CollectionError("A digit's id must be a whole number from 0 to 2**53.")
    return ids.astype(np.int64)


class Collection:
    """One session's digits. Every change is all or nothing, under a lock (a session's events
    may run at once), and replaces the snapshot readers hold rather than editing it. Ids come
    from the page, which keeps the same digits in the browser; a digit whose id is already here
    is skipped, so a keep repeated by a double tap or a network retry is kept once. An id deleted
    here stays deleted: a restore the page sent before the deletion, and that arrives after it,
    does not bring the digit back (the page makes a new id for every keep)."""

    def __init__(self, cap: int = CAP):
        self.cap = cap
        self._digits: Digits | None = EMPTY  # None while packed
        self._packed: tuple[bytes, np.ndarray, np.ndarray] | None = None  # (pixels, bz2'd; labels; ids)
        self._gone: dict[int, None] = {}  # deleted ids, oldest first, at most GONE of them
        self._lock = threading.Lock()

    def __len__(self) -> int:
        with self._lock:
            return len(self._packed[1]) if self._packed is not None else len(self._digits)

    def snapshot(self) -> Digits:
        with self._lock:
            return self._held()

    def _held(self) -> Digits:
        """The digits, unpacked if ``pack`` packed them; the caller holds the lock."""
        if self._packed is not None:
            pixels, labels, ids = self._packed
            self._digits = Digits(np.frombuffer(bz2.decompress(pixels), np.uint8).reshape(-1, PIXELS), labels, ids)
            self._packed = None
        return self._digits

    def pack(self) -> int:
        """Hold the pixels compressed until the digits are next read: a session nobody has used for a
        while keeps under 300 kB instead of 1.6 MB (digits are mostly blank: bz2 packs 2,000 of MNIST's
        5.6x in 34 ms and unpacks them in 20 ms; zlib's fastest level packs 4.4x in 11 ms, its best
        4.9x in 405 ms), so a crowd of idle sessions cannot hold the server's memory. Returns the
        bytes saved."""
        with self._lock:
            if self._packed is not None or not len(self._digits):
                return 0
            digits = self._digits
            packed = bz2.compress(digits.pixels.tobytes(), 9)
            self._packed, self._digits = (packed, digits.labels, digits.ids), None
            return digits.pixels.nbytes - len(packed)

    def add(self, digit, label: int, digit_id: int | None = None) -> int:
        """Keep one digit (784 floats in [0, 1]) under its true label; returns its id."""
        ids = None if digit_id is None else [digit_id]
        added, _ = self.add_many(to_bytes(digit)[None], np.array([label]), ids)
        return int(added[0]) if len(added) else int(digit_id)

    def add_many(self, pixels, labels, ids=None) -> tuple[np.ndarray, int]:
        """Keep (N, 784) uint8 digits with their labels, all of them or none. With ``ids`` (the
        page's), digits whose id is here already, or repeated, are skipped. Returns the ids added
        and how many were skipped."""
        pixels, labels = checked(pixels, labels)
        with self._lock:
            taken = set(self._held().ids.tolist())
            if ids is None:
                return self._append(pixels, labels, new_ids(len(labels), taken)), 0
            ids = checked_ids(ids, len(labels))
            new = np.zeros(len(ids), dtype=bool)
            for i, digit_id in enumerate(ids.tolist()):
                new[i] = digit_id not in taken and digit_id not in self._gone
                taken.add(digit_id)
            return self._append(pixels[new], labels[new], ids[new]), int((~new).sum())

    def add_unseen(self, pixels: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, int, int]:
        """Keep the digits that are not already here (same pixels, same label), each once: an
        export imported twice, or a class's pooled files, adds nothing twice. Returns the new ids,
        how many different digits given were here already, and how many given were copies of
        others given (an export's IDX pair and zip hold the same digits); all or none, like
        ``add_many``."""
        pixels, labels = checked(pixels, labels)
        with self._lock:
            now = self._held()
            here = {(int(label), row.tobytes()) for row, label in zip(now.pixels, now.labels, strict=True)}
            seen: set = set()
            new = np.zeros(len(labels), dtype=bool)
            for i, (row, label) in enumerate(zip(pixels, labels, strict=True)):
                key = (int(label), row.tobytes())
                new[i] = key not in here and key not in seen
                seen.add(key)
            ids = new_ids(int(new.sum()), set(now.ids.tolist()))
            return self._append(pixels[new], labels[new], ids), len(seen & here), len(labels) - len(seen)

    def _append(self, pixels: np.ndarray, labels: np.ndarray, ids: np.ndarray) -> np.ndarray:
        """Add checked digits under their ids; the caller holds the lock."""
        now = self._held()
        if len(now) + len(labels) > self.cap:
            raise CollectionError(
                f"Your collection holds at most {self.cap:,} digits: it has {len(now):,}, and "
                f"{len(labels):,} more would not fit. Delete some (or export and clear) first.")
        self._digits = Digits(np.concatenate([now.pixels, pixels]),
                              np.concatenate([now.labels, labels.astype(np.uint8)]),
                              np.concatenate([now.ids, ids]))
        return ids

    def remove(self, digit_id: int) -> bool:
        """Delete one digit by id; False if there is none with that id (already deleted, or not
        here yet: a restore on its way will not bring it)."""
        if not 0 <= digit_id < MAX_ID:  # no digit has such an id (and numpy could not compare it)
            return False
        with self._lock:
            self._forget(np.array([digit_id], dtype=np.int64))
            now = self._held()
            keep = now.ids != digit_id
            if keep.all():
                return False
            self._digits = now.part(keep)
            return True

    def clear(self) -> None:
        with self._lock:
            self._forget(self._held().ids)
            self._digits = EMPTY

    def _forget(self, ids: np.ndarray) -> None:
        """Remember deleted ids, the newest GONE of them (a few hundred kB at most)."""
        self._gone.update(dict.fromkeys(ids.tolist()))
        for old in list(self._gone)[:max(0, len(self._gone) - GONE)]:
            del self._gone[old]
