"""Free text as a PostgreSQL ``tsquery``: shared by record search and item search.

May import nothing of memactor's but `memactor.postgres.schema`'s configuration name.
"""

from __future__ import annotations

import re
from typing import Any

from .schema import TEXT_CONFIG

__all__ = ["text_query"]

_WORD = re.compile(r"\w+")


def text_query(text: str) -> tuple[str, dict[str, Any]] | None:
    """Free text as a ``tsquery`` expression and its parameters: every word stemmed, any word may match.

    Operators of PostgreSQL's query syntaxes (``&``, ``|``, ``!``, ``<->``, quotes, ``or``, ``-``) in the
    text become plain words or vanish. Returns None when the text has no words at all.
    """
    words = list(dict.fromkeys(_WORD.findall(text)))
    if not words:
        return None
    expression = " || ".join(f"plainto_tsquery('{TEXT_CONFIG}', %(w{i})s)" for i in range(len(words)))
    return expression, {f"w{i}": word for i, word in enumerate(words)}
