"""Bearer tokens for ``memactor mcp --http``: the same token specs and grants as ``memactor serve``.

A token is accepted only if its grant covers the server's namespace (the one every tool call works in);
a read-only grant gets the read scope only, and `memactor.mcp.guard` keeps such a caller to the tools
that do not write. Without HTTP authentication (stdio, or loopback HTTP with no token configured), every
caller may read and write.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.auth.provider import AccessToken
from starlette.requests import Request

from ..net.scope import Token, authenticate

__all__ = ["READ_SCOPE", "WRITE_SCOPE", "GrantVerifier", "request_scopes"]

log = logging.getLogger("memactor.mcp")

READ_SCOPE = "memory:read"
WRITE_SCOPE = "memory:write"
_ALL_SCOPES = frozenset({READ_SCOPE, WRITE_SCOPE})


class GrantVerifier:
    """The SDK's token verifier over memactor tokens (``NAME:SECRET[:ro][:NS1,NS2]``)."""

    def __init__(self, tokens: Sequence[Token], namespace: str) -> None:
        """Accept ``tokens`` whose grant allows ``namespace``."""
        self._tokens = tuple(tokens)
        self._namespace = namespace

    async def verify_token(self, token: str) -> AccessToken | None:
        """Return the caller's access (client id = token name, scopes from the grant), or None to refuse."""
        grant = authenticate(self._tokens, token)
        if grant is None:
            return None
        if grant.namespaces is not None and self._namespace not in grant.namespaces:
            log.warning("token %r refused: it may not use this server's namespace", grant.name)
            return None
        scopes = [READ_SCOPE] if grant.readonly else sorted(_ALL_SCOPES)
        # The secret itself is not kept in the access record.
        return AccessToken(token="", client_id=grant.name, scopes=scopes)


def request_scopes(request: object) -> frozenset[str]:
    """The scopes of the HTTP request a call came with; all of them when it was not authenticated."""
    if isinstance(request, Request):
        user = request.scope.get("user")
        if isinstance(user, AuthenticatedUser):
            return frozenset(user.scopes)
    return _ALL_SCOPES
