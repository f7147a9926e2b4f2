"""The addresses other machines on the local network can open the app at, for a school laptop
serving its class (`python app.py --host 0.0.0.0`). Read from the machine itself (Linux's routing
table, else the host name's addresses): nothing is sent, and no internet is needed."""

from __future__ import annotations

import ipaddress
import socket
from pathlib import Path

FIB_TRIE = Path("/proc/net/fib_trie")
LOOPBACK_NAMES = ("localhost", "127.0.0.1")


def local_addresses(fib_trie: str | None = None) -> list[str]:
    """This machine's own IPv4 addresses, loopback left out. ``fib_trie``: the text of Linux's
    /proc/net/fib_trie, where each of them is an address followed by a "/32 host LOCAL" line."""
    if fib_trie is None:
        try:
            fib_trie = FIB_TRIE.read_text()
        except OSError:
            fib_trie = ""
    found, last = set(), None
    for line in fib_trie.splitlines():
        text = line.strip()
        if text.startswith("|-- "):
            last = text[4:]
        elif text.startswith("/32 host LOCAL") and last:
            found.add(last)
    if not found:  # not Linux: the addresses the host's name resolves to
        try:
            found = {info[4][0] for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)}
        except OSError:
            found = set()
    return sorted(a for a in found if not a.startswith("127."))


def lan_urls(port: int, addresses: list[str] | None = None) -> list[str]:
    return [f"http://{address}:{port}/" for address in (local_addresses() if addresses is None else addresses)]


def student_address(host: str, scheme: str, serving_lan: bool, addresses: list[str] | None = None) -> str:
    """The app's address as students reach it, from the Host the teacher's page was opened at
    (``name[:port]``) and its scheme. A teacher on the serving laptop opens it as localhost, which no
    phone can reach: then the laptop's network address, when it serves the network (``serving_lan``:
    Settings.serving_lan) and has one."""
    name, _, port = host.rpartition(":") if host.count(":") == 1 else (host, "", "")
    if name in LOOPBACK_NAMES and serving_lan:
        found = local_addresses() if addresses is None else addresses
        if found:
            return f"http://{found[0]}:{port or 7860}/"
    return f"{scheme}://{host}/"


def is_this_machine(client: str | None, addresses: list[str] | None = None) -> bool:
    """Whether a request's client address is this machine's own: the serving laptop's browser,
    whichever of its addresses the page was opened at (a student's device never is)."""
    try:
        ip = ipaddress.ip_address(client or "")
    except ValueError:
        return client in LOOPBACK_NAMES
    ip = getattr(ip, "ipv4_mapped", None) or ip  # an IPv4 address as an IPv6 socket reports it
    return ip.is_loopback or str(ip) in (local_addresses() if addresses is None else addresses)
