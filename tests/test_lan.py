"""The addresses a class opens the app at, read from the machine (no traffic, no internet)."""

import subprocess
import sys
from pathlib import Path

from mnist_demo.lan import lan_urls, local_addresses

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
