"""memactor as an MCP server: native memory tools for language models, over stdio or streamable HTTP.

Built on the official MCP Python SDK (the ``mcp`` extra); nothing below this subpackage imports it, and
the command line imports it only when ``memactor mcp`` runs. Every tool goes through a memactor handle
(`memactor.open` or `memactor.connect`), never to the database itself. May import the core subpackages
and `memactor.net`.
"""

from .tools import build_server

__all__ = ["build_server"]
