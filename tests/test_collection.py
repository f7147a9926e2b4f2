"""A session's own digits: kept as MNIST keeps its digits, capped, all-or-nothing changes, and a
held-out share that stays put as the collection grows."""

import threading

import numpy as np
import pytest

from mnist_demo.collection import HOLD_OUT_EVERY, Collection, CollectionError, held_out, to_bytes


def test_a_kept_digit_is_stored_as_mnist_bytes_and_read_back_scaled_like_training(mnist):
    c = Collection()
    digit = mnist.x_valid[3]  # already k/256, as the page's digits are
    c.add(digit, int(mnist.y_valid[3]))
    d = c.snapshot()
    assert d.pixels.dtype == np.uint8 and d.pixels.shape == (1, 784)
    np.testing.assert_array_equal(d.x[0], digit)  # bytes / 256: exactly the training scaling
    assert d.y.tolist() == [int(mnist.y_valid[3])]


def test_page_floats_round_to_the_nearest_byte():
    assert to_bytes(np.full(784, 100.4 / 256))[0] == 100
    assert to_bytes(np.full(784, 255.9 / 256))[0] == 255  # never wraps
    with pytest.raises(CollectionError):
        to_bytes(np.zeros(783))
    with pytest.raises(CollectionError):
        to_bytes(np.full(784, np.nan))


def test_remove_by_id_and_clear():
    c = Collection()
    ids = [c.add(np.full(784, k / 256), k) for k in range(5)]
    assert c.remove(ids[2]) and not c.remove(ids[2])  # a second delete of the same digit is harmless
    assert c.snapshot().labels.tolist() == [0, 1, 3, 4]
    new = c.add(np.zeros(784), 7)
    assert new not in ids  # ids are never reused, so a stale delete cannot hit a new digit
    c.clear()
    assert len(c) == 0


def test_a_deleted_digit_stays_deleted_when_a_late_restore_sends_it_again():
    """The page's restore, sent before a deletion and arriving after it, must not bring it back."""
    c = Collection()
    pixels, labels, ids = np.zeros((3, 784), np.uint8), np.arange(3), [11, 12, 13]
    c.add_many(pixels, labels, ids)
    c.remove(12)
    _, skipped = c.add_many(pixels, labels, ids)  # the late restore
    assert c.snapshot().ids.tolist() == [11, 13] and skipped == 3
    assert not c.remove(-1) and not c.remove(2**70)  # ids no digit can have: nothing, no crash
    assert not c.remove(14)  # deleted before its restore came: it does not come
    c.add_many(np.zeros((1, 784), np.uint8), [4], [14])
    assert 14 not in c.snapshot().ids
    c.clear()
    c.add_many(pixels, labels, ids)
    assert len(c) == 0
    c.add_many(pixels, labels, [21, 22, 23])  # other ids (new keeps) are kept
    assert len(c) == 3


def test_the_cap_refuses_the_whole_change_and_says_so():
    c = Collection(cap=10)
    c.add_many(np.zeros((8, 784), np.uint8), np.arange(8))
    with pytest.raises(CollectionError, match="at most 10 digits: it has 8, and 3 more"):
        c.add_many(np.zeros((3, 784), np.uint8), np.arange(3))
    assert len(c) == 8  # nothing of the refused three was kept
    c.add_many(np.zeros((2, 784), np.uint8), np.arange(2))
    with pytest.raises(CollectionError, match="at most 10"):
        c.add(np.zeros(784), 1)


@pytest.mark.parametrize("labels", [np.array([10]), np.array([-1]), np.array([1.5]), np.array(["3"])])
def test_bad_labels_change_nothing(labels):
    c = Collection()
    with pytest.raises(CollectionError, match="0 to 9"):
        c.add_many(np.zeros((1, 784), np.uint8), labels)
    assert len(c) == 0


def test_a_quarter_of_each_digit_is_held_out_and_stays_held_out_as_more_come():
    labels = np.array([3, 3, 5, 3, 5, 3, 3, 5, 3, 3])
    mask = held_out(labels)
    # per digit, in the order kept: rank + label = 3 (mod 4): the 3s' ranks 0 and 4, the 5s' rank 2
    assert np.flatnonzero(mask).tolist() == [0, 6, 7]
    grown = held_out(np.concatenate([labels, [3, 5, 3, 3]]))
    assert (grown[:len(labels)] == mask).all()
    labels = np.repeat(np.arange(10), 40)
    assert (np.bincount(labels, weights=held_out(labels)) == 40 // HOLD_OUT_EVERY).all()  # per digit too


@pytest.mark.parametrize("per_digit", [[1] * 10, [2] * 5 + [1] * 5, [2] * 10, [3] * 10, [1, 2, 3, 4, 5] * 2])
def test_a_few_drawings_per_digit_hold_out_at_most_a_quarter(per_digit):
    # A new user keeps one or two of each digit: 15 digits once held out 6 (40 %) under a fixed phase.
    labels = np.concatenate([np.full(n, d) for d, n in enumerate(per_digit)])
    held = held_out(np.random.default_rng(0).permutation(labels)).sum()
    assert 1 <= held <= len(labels) / HOLD_OUT_EVERY


def test_split_gives_disjoint_parts_that_cover_the_collection():
    c = Collection()
    c.add_many(np.arange(12 * 784, dtype=np.int64).reshape(12, 784).astype(np.uint8), np.arange(12) % 3)
    fit, held = c.snapshot().split()
    assert len(fit) + len(held) == 12 and not set(fit.ids) & set(held.ids)
    assert sorted(held.labels.tolist()) == [0, 1, 2]


def test_concurrent_keeps_are_all_kept():
    c = Collection()

    def keep_many():
        for _ in range(50):
            c.add(np.zeros(784), 1)
    threads = [threading.Thread(target=keep_many) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(c) == 200 and len(set(c.snapshot().ids)) == 200


def test_a_digit_kept_twice_under_its_page_id_is_kept_once():
    # A double tap or a network retry sends the same keep again: the page's id makes it one digit.
    c = Collection()
    first = c.add(np.full(784, 0.5), 3, digit_id=2**53 - 1)
    again = c.add(np.full(784, 0.5), 3, digit_id=2**53 - 1)
    assert first == again == 2**53 - 1 and len(c) == 1
    added, skipped = c.add_many(np.zeros((3, 784), np.uint8), np.array([1, 2, 2]), [7, 8, 7])
    assert added.tolist() == [7, 8] and skipped == 1 and len(c) == 3


@pytest.mark.parametrize("ids", [[-1], [2**53], [1.5], ["7"], [[1]], [1, 2]])
def test_a_bad_page_id_changes_nothing(ids):
    c = Collection()
    with pytest.raises(CollectionError, match="id must be a whole number"):
        c.add_many(np.zeros((1, 784), np.uint8), np.array([1]), ids)
    assert len(c) == 0


def test_a_packed_collection_is_read_changed_and_counted_as_before(mnist):
    """An idle session's digits are held compressed (limits.pack_idle_digits): every reader and
    every change afterwards sees exactly the digits it would have seen, and MNIST's pack to under
    a third of their bytes."""
    c = Collection()
    pixels, labels = (mnist.x_valid[:400] * 256).astype(np.uint8), mnist.y_valid[:400].astype(np.uint8)
    ids, _ = c.add_many(pixels, labels, list(range(1, 401)))
    before = c.snapshot()
    saved = c.pack()
    assert saved > pixels.nbytes * 2 / 3 and c.pack() == 0  # packed once
    assert len(c) == 400
    after = c.snapshot()
    np.testing.assert_array_equal(after.pixels, before.pixels)
    assert after.labels.tolist() == before.labels.tolist() and after.ids.tolist() == before.ids.tolist()
    c.pack()
    assert c.remove(5) and len(c) == 399  # a change unpacks first
    c.pack()
    _, already, _ = c.add_unseen(pixels[:10], labels[:10])
    assert already == 9  # the removed one is new again; the rest are found in the packed digits
    c.pack()
    c.clear()
    assert len(c) == 0 and c.pack() == 0

