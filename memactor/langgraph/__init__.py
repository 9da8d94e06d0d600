"""memactor as a LangGraph store: `MemactorStore`, for ``store=`` at compile time and from nodes.

Needs the ``langgraph`` extra; nothing outside this subpackage imports LangGraph, and ``import memactor``
never imports this subpackage. Every operation goes through a memactor handle (`memactor.open` or
`memactor.connect`), never to the database itself. May import the core subpackages and `memactor.net`.
"""

from .home import SyncCallInLoopError
from .store import IndexUnsupportedError, MemactorStore, StoreOpener

__all__ = ["IndexUnsupportedError", "MemactorStore", "StoreOpener", "SyncCallInLoopError"]
