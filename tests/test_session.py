"""A visitor's session: fresh for every browser tab, its download folders kept apart by kind and
removed with it."""

import copy
import os

import numpy as np

from mnist_demo.session import Session, accept_start, close_session, stop_session


def test_each_browser_session_gets_a_fresh_one():
    default = Session()
    a, b = copy.deepcopy(default), copy.deepcopy(default)  # as gr.State gives each browser session
    a.digits.add(np.zeros(784), 1)
    a.models["cnn"] = object()
    assert len(a.digits) == 1 and len(b.digits) == 0 and len(default.digits) == 0
    assert not b.models and b.stop is not a.stop


def test_download_folders_are_replaced_per_kind_and_removed_with_the_session():
    s = Session()
    weights = s.new_downloads("weights")
    digits = s.new_downloads("digits")
    newer = s.new_downloads("digits")
    assert os.path.isdir(weights) and os.path.isdir(newer) and not os.path.exists(digits)
    assert newer != digits  # a new name each time: a browser never gets a stale cached copy
    close_session(s)
    assert not os.path.exists(weights) and not os.path.exists(newer) and s.stop.is_set()


def test_start_forgets_an_earlier_stop_but_not_one_made_while_waiting():
    s = Session()
    stop_session(s)
    accept_start(s)
    assert not s.stop.is_set() and s.waiting
    stop_session(s)
    assert s.stop.is_set() and s.waiting  # run_training will see it and leave the queue


def test_a_worse_or_stopped_run_never_replaces_a_better_model():
    s = Session()
    first, worse, better = object(), object(), object()
    assert s.keep_better({"cnn": first}, {"cnn": 0.95}) == {}
    assert s.keep_better({"cnn": worse, "linear": worse}, {"cnn": 0.60, "linear": 0.90}) == {"cnn": 0.95}
    assert s.models == {"cnn": first, "linear": worse} and s.accuracy == {"cnn": 0.95, "linear": 0.90}
    assert s.keep_better({"cnn": better}, {"cnn": 0.97}) == {}
    assert s.models["cnn"] is better and s.accuracy["cnn"] == 0.97


def test_the_visitor_can_choose_the_run_that_scored_lower_and_switch_back():
    from mnist_demo.session import Session

    s = Session()
    good, worse = object(), object()
    assert s.keep_better({"cnn": good}, {"cnn": 0.95}) == {}
    assert s.keep_better({"cnn": worse}, {"cnn": 0.57}) == {"cnn": 0.95}  # Stop: the better one stays
    assert s.models["cnn"] is good and s.set_aside["cnn"] == (worse, 0.57)
    assert s.use_set_aside() == {"cnn": (0.57, 0.95)}  # chosen anyway
    assert s.models["cnn"] is worse and s.accuracy["cnn"] == 0.57
    s.use_set_aside()  # and back
    assert s.models["cnn"] is good and s.accuracy["cnn"] == 0.95


def test_the_line_of_waiting_trainings_has_one_place_per_session_and_a_cap():
    from mnist_demo.session import Session, TrainingLine

    line = TrainingLine(max_wait=60)
    first, second, third = Session(), Session(), Session()
    assert line.admit(first, capacity=2, slots=2, now=0) is None
    assert "already waiting or running in this tab" in line.admit(first, capacity=2, slots=2, now=1)
    assert line.admit(second, capacity=2, slots=2, now=2) is None
    refused = line.admit(third, capacity=2, slots=2, now=3)  # the line is full: cheap events keep their room
    assert refused.startswith("2 trainings are already waiting") and "try again in about 1 minute" in refused
    line.leave(first)  # its training started
    assert line.admit(third, capacity=2, slots=2, now=4) is None
    assert line.admit(first, capacity=3, slots=2, now=100) is None  # the others' places expired (client gone)
    assert len(line) == 1


def test_a_closed_session_leaves_the_line():
    from mnist_demo.session import WAITING, Session, close_session

    s = Session()
    assert WAITING.admit(s, capacity=100, slots=1) is None
    close_session(s)
    assert WAITING.admit(s, capacity=100, slots=1) is None  # its place was freed
    WAITING.leave(s)
