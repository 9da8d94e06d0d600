"""The stores contract suite (tests/test_stores.py) through `memactor serve`'s server on a PostgreSQL memory.

``mem`` here is a `memactor.connect` handle to an in-process server whose memory is on PostgreSQL, so the
same calls cross the socket and land in PostgreSQL's engine (`tests.postgres.served`).
"""

from __future__ import annotations

from tests.postgres import served
from tests.test_stores import *  # noqa: F403

# After the suite's own, so that these are the fixtures its tests get.
mem, server, socket_dir = served.mem, served.server, served.socket_dir
