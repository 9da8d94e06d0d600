"""The read lane of each stream a client reads through one connection, so its pages keep to one lane.

In process, `memactor.actor.stores.Store.stream` keeps every page of a stream on one read lane (hence, with
PostgreSQL replicas, on one replica). Through a server each page is a query of its own; the client numbers
its streams and sends the number with each page (see `memactor.net.payloads`), and the connection keeps the
lane of each number here. The map belongs to the connection, so it goes when the connection closes, and it
is bounded: past ``size`` streams the least recently read one is forgotten, and its next page picks a lane
afresh. A forgotten stream loses only its affinity, never a record: pages are keyset reads either way.
"""

from __future__ import annotations

import contextlib
from collections import OrderedDict
from collections.abc import Iterator

from ..actor.readpool import LaneAffinity, same_lane

__all__ = ["DEFAULT_STREAMS", "StreamLanes"]

# Streams of one connection whose lanes are kept: a client reads a few at once; a hostile one may send any
# number of keys and still costs the server this many small objects.
DEFAULT_STREAMS = 64


class StreamLanes:
    """The lanes of one connection's streams, by stream key, least recently read first.

    Args:
        size: Streams kept at most.
    """

    def __init__(self, size: int = DEFAULT_STREAMS) -> None:
        self._size = size
        self._lanes: OrderedDict[int, LaneAffinity] = OrderedDict()

    def __len__(self) -> int:
        return len(self._lanes)

    def affinity(self, key: int) -> LaneAffinity:
        """The lane of stream ``key`` (unpicked if new), now the most recently read."""
        affinity = self._lanes.get(key)
        if affinity is None:
            affinity = self._lanes[key] = LaneAffinity()
            if len(self._lanes) > self._size:
                self._lanes.popitem(last=False)
        else:
            self._lanes.move_to_end(key)
        return affinity

    @contextlib.contextmanager
    def reading(self, key: int | None) -> Iterator[None]:
        """Send the reads of the body to stream ``key``'s lane (any lane when ``key`` is None)."""
        if key is None:
            yield
            return
        with same_lane(self.affinity(key)):
            yield
