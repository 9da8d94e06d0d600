"""Free text to an FTS5 query, shared by record and item searches."""

from __future__ import annotations

import re

__all__ = ["fts_match"]

_WORD = re.compile(r"\w+")


def fts_match(text: str) -> str | None:
    """Turn free text into an FTS5 query: every word quoted, any word may match.

    Operators (``AND``, ``NEAR(``, ``*``, ``-``, ``^``) and quotes in the text become plain words or vanish.
    Returns None when the text has no words at all.
    """
    words = _WORD.findall(text)
    return " OR ".join(f'"{word}"' for word in words) or None
