"""The addresses a class opens the app at, read from the machine (no traffic, no internet)."""

import subprocess
import sys
from pathlib import Path

from mnist_demo import lan
from mnist_demo.lan import is_this_machine, lan_urls, local_addresses

FIB_TRIE = """Main:
  +-- 0.0.0.0/0 3 0 5
     +-- 127.0.0.0/8 2 0 2
           |-- 127.0.0.1
              /32 host LOCAL
        |-- 127.255.255.255
           /32 link BROADCAST
     +-- 192.168.1.0/24 2 0 2
           |-- 192.168.1.0
              /24 link UNICAST
           |-- 192.168.1.23
              /32 host LOCAL
Local:
           |-- 192.168.1.23
              /32 host LOCAL
           |-- 10.0.0.7
              /32 host LOCAL
"""


def test_the_machines_own_addresses_without_loopback_or_broadcast():
    assert local_addresses(FIB_TRIE) == ["10.0.0.7", "192.168.1.23"]
    assert lan_urls(7860, ["192.168.1.23"]) == ["http://192.168.1.23:7860/"]


def test_a_request_from_the_serving_machine_is_known_by_any_of_its_addresses():
    """The serving laptop's own browser, at localhost or at the address it gave the class (its
    training then leaves the server a core); a student's device never is."""
    here = ["192.168.1.23"]
    for client in ("127.0.0.1", "::1", "::ffff:127.0.0.1", "192.168.1.23", "::ffff:192.168.1.23"):
        assert is_this_machine(client, here), client
    for client in ("192.168.1.24", "10.0.0.7", "", None):
        assert not is_this_machine(client, here), client


def test_help_of_the_app_says_what_it_is_and_each_option():
    """--help answers before torch and Gradio load (app.py parses its command line first)."""
    out = subprocess.run([sys.executable, "app.py", "--help"], cwd=Path(__file__).resolve().parents[1],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    text = " ".join(out.stdout.split())
    assert "MNIST Draw & Train: a web app" in text and "docs/settings.md" in text
    for option, said in (("--host HOST", "0.0.0.0 serves the other machines"), ("--port PORT", "port to listen on"),
                         ("--share", "gradio.live link")):
        assert said in text.rsplit(option, 1)[1][:120], option  # its help, in the options (after the usage line)


def test_the_address_students_reach_from_the_page_the_teacher_opened():
    from mnist_demo.lan import student_address

    here = ["192.168.1.20"]
    # Serving the network, a laptop's own "localhost" becomes its network address, port kept.
    assert student_address("localhost:7861", "http", True, here) == "http://192.168.1.20:7861/"
    assert student_address("127.0.0.1", "http", True, here) == "http://192.168.1.20:7860/"
    # Serving this machine only, or no network address found: the address as it was opened.
    assert student_address("localhost:7861", "http", False, here) == "http://localhost:7861/"
    assert student_address("localhost:7861", "http", True, []) == "http://localhost:7861/"
    # A real host name (a Space behind its proxy) is never replaced.
    assert student_address("me-mnist.hf.space", "https", True, here) == "https://me-mnist.hf.space/"


def test_the_built_app_hands_its_lan_flag_to_the_class_tab(monkeypatch, tmp_path):
    """The settings a demo is built with decide the join link (a Space, `gradio app.py` or app.py
    alike): the wired "Start a class" of an app serving the network gives phones its LAN address."""
    import dataclasses
    from types import SimpleNamespace

    from mnist_demo import ui
    from mnist_demo.session import Session
    from mnist_demo.settings import from_env

    monkeypatch.setattr(lan, "local_addresses", lambda: ["192.168.1.20"])
    asked = SimpleNamespace(headers={"host": "localhost:7860"}, client=SimpleNamespace(host="127.0.0.1"),
                            query_params={}, url=SimpleNamespace(scheme="http"))
    for host, address in (("0.0.0.0", "http://192.168.1.20:7860/"), ("127.0.0.1", "http://localhost:7860/")):
        demo = ui.build_demo(settings=dataclasses.replace(from_env({}), host=host, data_dir=tmp_path / host))
        start = next(f.fn for f in demo.fns.values() if getattr(f.fn, "__name__", "") == "start_class")
        session = Session()
        start(session, asked)
        assert session.seat.base_url == address
