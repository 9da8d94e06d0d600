"""Where a server listens and a client connects: ``unix:///path/to.sock`` or ``tcp://host:port``.

A Unix socket is created with mode 0600 from the start (under a restrictive umask, not chmod-ed after
bind), and a stale socket file is replaced only when no server answers on it. TCP listens on loopback
unless remote listening is asked for explicitly.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import stat
import urllib.parse
from dataclasses import dataclass

import anyio
from anyio.abc import SocketListener, SocketStream

from ..errors import InvalidInputError

__all__ = ["Endpoint"]


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A parsed server address.

    Attributes:
        scheme: ``"unix"`` or ``"tcp"``.
        path: The socket file (unix).
        host: The host (tcp).
        port: The port (tcp; 0 asks the system for a free one when listening).
    """

    scheme: str
    path: str = ""
    host: str = ""
    port: int = 0

    @classmethod
    def parse(cls, url: str) -> Endpoint:
        """Parse ``unix:///path`` or ``tcp://host:port``.

        Raises:
            InvalidInputError: any other form, or a user or password in the address.
        """
        parts = urllib.parse.urlsplit(url)
        if "@" in parts.netloc:  # not echoed: what precedes the @ may be a secret
            raise InvalidInputError(
                "a memactor address takes no user or password (unix:///path/to.sock or tcp://host:port); pass"
                " the token's secret as token=... or in the MEMACTOR_TOKEN environment variable"
            )
        if parts.scheme == "unix" and parts.path and not parts.netloc:
            return cls("unix", path=parts.path)
        if parts.scheme == "tcp" and parts.hostname:
            try:
                port = parts.port
            except ValueError:
                port = None
            if port is not None:
                return cls("tcp", host=parts.hostname, port=port)
        raise InvalidInputError(f"expected unix:///path/to.sock or tcp://host:port, not {url!r}")

    @property
    def url(self) -> str:
        """The address as a URL."""
        if self.scheme == "unix":
            return f"unix://{self.path}"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"tcp://{host}:{self.port}"

    @property
    def is_loopback(self) -> bool:
        """True for a Unix socket or a TCP address on the loopback interface."""
        if self.scheme == "unix" or self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False

    async def connect(self) -> SocketStream:
        """Open a connection to a server here.

        Raises:
            OSError: nothing listens here.
        """
        if self.scheme == "unix":
            return await anyio.connect_unix(self.path)
        return await anyio.connect_tcp(self.host, self.port)

    async def listen(self, *, allow_remote: bool = False) -> tuple[SocketListener, Endpoint]:
        """Listen here; returns the listener and the bound endpoint (with the real port for port 0).

        Raises:
            InvalidInputError: a non-loopback TCP host without ``allow_remote``.
            OSError: the address is in use (a live server answers on the socket file) or not bindable.
        """
        if self.scheme == "unix":
            return await SocketListener.from_socket(_bind_unix(self.path)), self
        if not self.is_loopback and not allow_remote:
            raise InvalidInputError(
                f"refusing to listen on non-loopback {self.host}: pass --allow-remote (and use tokens; traffic is not "
                "encrypted)"
            )
        sock = socket.create_server((self.host, self.port), backlog=4096)
        sock.setblocking(False)
        port = sock.getsockname()[1]
        return await SocketListener.from_socket(sock), Endpoint("tcp", host=self.host, port=port)

    def remove(self) -> None:
        """Remove the socket file of a Unix endpoint, if it is still a socket."""
        if self.scheme == "unix":
            try:
                if stat.S_ISSOCK(os.lstat(self.path).st_mode):
                    os.unlink(self.path)
            except FileNotFoundError:
                pass


def _bind_unix(path: str) -> socket.socket:
    _clear_stale(path)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        # The umask makes the socket 0600 the moment it exists; chmod after bind would leave a window.
        old = os.umask(0o177)
        try:
            sock.bind(path)
        finally:
            os.umask(old)
        sock.listen(4096)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


def _clear_stale(path: str) -> None:
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(mode):
        raise FileExistsError(f"{path} exists and is not a socket")
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(path)
    except (ConnectionRefusedError, FileNotFoundError):
        os.unlink(path)  # left behind by a server that died
        return
    finally:
        probe.close()
    raise OSError(f"a server already listens on {path}")
