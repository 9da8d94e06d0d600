"""Tokens and what they allow: read-only or not, all namespaces or some.

A token is configured as ``NAME:SECRET[:ro][:NS1,NS2,...]`` (``ro``: no writes; a namespace list: only
those namespaces). Secrets are compared in constant time. Checks are pure functions, applied by the
server to every command and query (inside batches too) and by a ``local_reads`` client to its own reads.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from .commands import AddRecords, Batch, Command, DeleteRecord, Ping, RecordUse, SetQuota, UpdateRecord
from .errors import AccessDeniedError, InvalidInputError, ReadOnlyError
from .queries import Count, Get, GetByName, Page, Query, Search

__all__ = [
    "FULL_ACCESS",
    "Grant",
    "Token",
    "authenticate",
    "check_command",
    "check_query",
    "check_records",
    "filter_result",
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

    def require(self, namespace: object) -> None:
        """Raise `AccessDeniedError` unless ``namespace`` is within this grant."""
        if self.namespaces is not None and (not isinstance(namespace, str) or namespace not in self.namespaces):
            raise AccessDeniedError(f"token {self.name!r} may not use namespace {namespace!r}")


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


def check_command(grant: Grant, command: Command) -> set[tuple[str, str]]:
    """Check ``command`` (and every command of a batch) against ``grant``.

    Returns:
        The ``(kind, id)`` of every existing record the command changes: the caller must check that each
        is within the grant's namespaces (empty for a grant of every namespace).

    Raises:
        ReadOnlyError: a write through a read-only token.
        AccessDeniedError: a record or a namespace change outside the token's namespaces, or a quota
            change by a token limited to namespaces.
    """
    if isinstance(command, Ping):
        return set()
    if grant.readonly:
        raise ReadOnlyError(f"token {grant.name!r} is read-only")
    targets: set[tuple[str, str]] = set()
    _collect(grant, command, targets)
    return targets if grant.namespaces is not None else set()


def _collect(grant: Grant, command: Command, targets: set[tuple[str, str]]) -> None:
    match command:
        case AddRecords(records=records):
            for record in records:
                grant.require(record.namespace)
        case UpdateRecord(kind=kind, id=record_id, changes=changes):
            if "namespace" in changes:
                grant.require(changes["namespace"])
            targets.add((kind, record_id))
        case DeleteRecord(kind=kind, id=record_id):
            targets.add((kind, record_id))
        case RecordUse(id=record_id):
            targets.add(("skill", record_id))
        case Batch(commands=commands):
            for inner in commands:
                _collect(grant, inner, targets)
        case SetQuota():
            if grant.namespaces is not None:
                raise AccessDeniedError(f"token {grant.name!r} is limited to namespaces; it cannot set the quota")
        case Ping():
            pass


def check_records(grant: Grant, records: Iterable[Any]) -> None:
    """Raise `AccessDeniedError` if any of ``records`` lies outside the grant's namespaces."""
    for record in records:
        grant.require(record.namespace)


def check_query(grant: Grant, query: Query) -> Query:
    """Check ``query`` against ``grant``; return it, limited to the token's namespace where implied.

    A search, stream or count without a ``namespace`` filter through a token of one namespace is limited
    to that namespace; through a token of several, it must name one.

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
                        f"token {grant.name!r} is limited to namespaces {sorted(grant.namespaces)}: pass namespace="
                    )
                (only,) = grant.namespaces
                return replace(query, filters=replace(query.filters, namespace=only))
            grant.require(wanted)
        case Get():
            pass
    return query


def filter_result(grant: Grant, query: Query, result: Any) -> Any:
    """Drop from a `Get` result the records outside the grant's namespaces (as if they did not exist)."""
    if grant.namespaces is None or not isinstance(query, Get):
        return result
    return [record for record in result if record.namespace in grant.namespaces]
