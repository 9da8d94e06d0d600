"""The server tests' short socket directory, for the two-process graph test."""

from tests.server.conftest import socket_dir

__all__ = ["socket_dir"]
