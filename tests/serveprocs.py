"""Find the `memactor serve` processes of this machine by the address they listen on (their command line)."""

from __future__ import annotations

from pathlib import Path

from memactor.net.autostart import socket_path


def serve_pids(listen: str) -> list[int]:
    """The ``memactor serve`` processes whose command line names ``listen`` (``unix://...`` or ``tcp://...``)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                args = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"serve" in args and listen.encode() in args:
                pids.append(int(entry.name))
    return pids


def started_server_pids(target: str) -> list[int]:
    """The servers `connect_or_start(target)` started: found by their socket, since a URL is not on their
    command line."""
    return serve_pids(f"unix://{socket_path(target)}")
