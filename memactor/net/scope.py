"""Tokens and what they allow: read-only or not, all namespaces or some.

A token is configured as ``NAME:SECRET[:ro][:NS1,NS2,...]`` (``ro``: no writes; a namespace list: only
those namespaces). Secrets are compared in constant time. Checks are pure functions, applied by the
server to every command and query (inside batches too) and by a ``local_reads`` client to its own reads.

A namespace-scoped token sees nothing outside its namespaces: records there answer as if they did not
exist (see `memactor.net.guard` for writes by id), its error texts name no other namespace, and its
statistics keep only load figures. Any token that may write may record the file's embedder (the writer
refuses another than the one recorded); a read-only token may only check it. Only an unrestricted token
(no ``ro``, no namespace list) may change the quota, re-embed records, or sweep expired items itself.

Items are addressed by namespace tuples; a token's namespaces are their roots (first labels). A scoped
token reads only items whose root is among its namespaces (any other item answers as missing: `get`
raises `NotFoundError`, searches and listings leave it out), and a put or delete elsewhere is refused with
`AccessDeniedError`: that is decided on the request alone, so it says nothing of what is stored. Refreshing
TTLs on read is done by the server's own handle, so read-only tokens' reads refresh too.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from ..errors import AccessDeniedError, InvalidInputError, ReadOnlyError
from ..model.commands import (
    AddRecords,
    Batch,
    Command,
    DeleteItem,
    Ping,
    PutItem,
    SetEmbedder,
    SetQuota,
    StageVectors,
    StoreVectors,
    SwapEmbedder,
    SweepItems,
    TouchItems,
    UpdateRecord,
)
from ..model.queries import Count, Get, GetByName, GetItems, ListNamespaces, Page, Query, Search, SearchItems
from ..model.stats import Statistics

__all__ = [
    "FULL_ACCESS",
    "Grant",
    "Token",
    "authenticate",
    "check_command",
    "check_query",
    "filter_result",
    "visible_statistics",
]

MIN_SECRET_CHARS = 16


@dataclass(frozen=True, slots=True)
class Grant:
    """What one token allows.

    Attributes:
        name: The token's name (for logs and messages; never the secret).
        readonly: No command but ``Ping`` is allowed.
        namespaces: The namespaces it may read and write, or None for all.
    """

    name: str
    readonly: bool = False
    namespaces: frozenset[str] | None = None

    @property
    def unrestricted(self) -> bool:
        """Whether the token may do everything: write, in every namespace, and change the quota."""
        return not self.readonly and self.namespaces is None

    def require(self, namespace: object) -> None:
        """Raise `AccessDeniedError` unless ``namespace`` is within this grant.

        The message names the namespaces the token may use, never the one asked for: a scoped token's
        errors name nothing outside its scope, even what the caller sent.
        """
        if self.namespaces is not None and (not isinstance(namespace, str) or namespace not in self.namespaces):
            raise AccessDeniedError(
                f"this token may use only the namespaces {sorted(self.namespaces)}; the request names another one"
                ' (a record\'s namespace is "default" unless given)'
            )


FULL_ACCESS = Grant("local")


@dataclass(frozen=True, slots=True)
class Token:
    """A configured token: the SHA-256 of its secret and its grant."""

    digest: bytes
    grant: Grant

    @classmethod
    def parse(cls, spec: str) -> Token:
        """Parse ``NAME:SECRET[:ro][:NS1,NS2,...]``.

        Raises:
            InvalidInputError: a malformed spec, or a secret shorter than 16 characters.
        """
        name, _, rest = spec.strip().partition(":")
        secret, _, options = rest.partition(":")
        if not name or len(secret) < MIN_SECRET_CHARS:
            raise InvalidInputError(
                f"token {name!r}: expected NAME:SECRET[:ro][:NS1,NS2] with a secret of {MIN_SECRET_CHARS}+ characters"
            )
        readonly = False
        namespaces: frozenset[str] | None = None
        for option in filter(None, options.split(":")):
            if option == "ro":
                readonly = True
            elif namespaces is None:
                namespaces = frozenset(ns.strip() for ns in option.split(",") if ns.strip())
            else:
                raise InvalidInputError(f"token {name!r}: more than one namespace list")
        if namespaces is not None and not namespaces:
            raise InvalidInputError(f"token {name!r}: an empty namespace list")
        return cls(_digest(secret), Grant(name, readonly, namespaces))


def _digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


def authenticate(tokens: Sequence[Token], secret: object) -> Grant | None:
    """Return the grant of the token whose secret is ``secret``, or None.

    Every configured token is compared, in constant time, so timing tells nothing about which one is near.
    """
    if not isinstance(secret, str):
        return None
    offered = _digest(secret)
    found: Grant | None = None
    for token in tokens:
        if hmac.compare_digest(token.digest, offered):
            found = token.grant
    return found


def check_command(grant: Grant, command: Command) -> None:
    """Check what ``command`` (and every command of a batch) asks for against ``grant``, before it runs.

    Only what the request itself names is checked here (its kind, the namespaces of its new records and
    of its namespace changes), never stored data: records it changes by id are `memactor.net.guard`'s part.

    Raises:
        AccessDeniedError: a quota change by a restricted token, or a namespace outside the token's.
        ReadOnlyError: a write through a read-only token.
    """
    if isinstance(command, Ping) or (isinstance(command, SetEmbedder) and command.check_only):
        return  # checking the file's embedder writes nothing: every token may
    if isinstance(command, SetQuota) and not grant.unrestricted:
        raise AccessDeniedError(
            "only a token with neither ro nor a namespace list may change the quota: use such a token, or start"
            " the server with `memactor serve --max-size BYTES`"
        )
    if isinstance(command, (StoreVectors, StageVectors, SwapEmbedder)) and not grant.unrestricted:
        # It names records by id in any namespace: a scoped token could learn which ids exist elsewhere.
        raise AccessDeniedError("only a token with neither ro nor a namespace list may re-embed records (reindex)")
    if isinstance(command, SweepItems) and not grant.unrestricted:
        raise AccessDeniedError("only a token with neither ro nor a namespace list may sweep expired items")
    if grant.readonly:
        raise ReadOnlyError("this token is read-only: writes need a token without ro")
    _check_namespaces(grant, command)


def _check_namespaces(grant: Grant, command: Command) -> None:
    match command:
        case AddRecords(records=records):
            for record in records:
                grant.require(record.namespace)
        case UpdateRecord(changes=changes) if "namespace" in changes:
            grant.require(changes["namespace"])
        case PutItem(namespace=namespace) | DeleteItem(namespace=namespace):
            grant.require(namespace[0])
        case TouchItems(addresses=addresses):
            for namespace, _ in addresses:
                grant.require(namespace[0])
        case Batch(commands=commands):
            for inner in commands:
                _check_namespaces(grant, inner)


def check_query(grant: Grant, query: Query) -> Query:
    """Check ``query`` against ``grant``; return it, limited to the token's namespace where implied.

    A search, stream or count without a ``namespace`` filter through a token of one namespace is limited
    to that namespace (whatever its other filters); through a token of several, it must name one.

    Raises:
        AccessDeniedError: the query names a namespace outside the grant, or names none when it must.
    """
    if grant.namespaces is None:
        return query
    match query:
        case GetByName(namespace=namespace):
            grant.require(namespace)
        case Search() | Page() | Count():
            wanted = query.filters.namespace
            if wanted is None:
                if len(grant.namespaces) != 1:
                    raise AccessDeniedError(
                        f"this token may use several namespaces, {sorted(grant.namespaces)}: pass namespace= to"
                        " search, stream or count in one of them"
                    )
                (only,) = grant.namespaces
                return replace(query, filters=replace(query.filters, namespace=only))
            grant.require(wanted)
        case Get():
            pass
        case GetItems(addresses=addresses):
            return replace(query, addresses=tuple(a for a in addresses if a[0][0] in grant.namespaces))
        case SearchItems(roots=roots) | ListNamespaces(roots=roots):
            allowed = grant.namespaces if roots is None else grant.namespaces.intersection(roots)
            return replace(query, roots=tuple(sorted(allowed)))
    return query


def filter_result(grant: Grant, query: Query, result: Any) -> Any:
    """Drop from a result the records outside the grant's namespaces, as if they did not exist.

    `Get` needs it (ids are not filtered in SQL); for searches and streams it backs up `check_query`.
    """
    if grant.namespaces is None:
        return result
    match query:
        case Get() | Page():
            return [record for record in result if record.namespace in grant.namespaces]
        case Search():
            return [hit for hit in result if hit.record.namespace in grant.namespaces]
        case GetItems() | SearchItems():
            return [item for item in result if item.namespace[0] in grant.namespaces]
        case ListNamespaces():
            return [namespace for namespace in result if namespace[0] in grant.namespaces]
    return result


def visible_statistics(grant: Grant, statistics: Statistics) -> Statistics:
    """The statistics a token may see: all of them, or for a namespace-scoped token only the load figures.

    A scoped token keeps what it needs to pace itself (queue depth and capacity, commit latency) but
    not the running counts of batches, commands and reads: those tally every write and read of the other
    namespaces, one by one.
    """
    if grant.namespaces is None:
        return statistics
    return replace(
        statistics,
        batches=0,
        commands=0,
        mean_batch_size=0.0,
        max_batch_size=0,
        batch_size_histogram={},
        reads=0,
    )
