"""A client process for the autostart tests: wait for the start signal, then connect-or-start and write.

Run as ``python autostart_client.py PATH FIFO COUNT``. The client touches ``FIFO.<pid>.ready`` once
imported, then opens FIFO for reading, which blocks until the test opens it for writing: that releases
every waiting client at the same instant. Prints a JSON summary
(the server's URL and the acknowledged ids) on stdout.
"""

from __future__ import annotations

import json
import os
import sys

import anyio

from memactor import Episode
from memactor.net.autostart import connect_or_start


async def main(path: str, count: int) -> None:
    async with await connect_or_start(path) as mem:
        ids = [await mem.episodes.add(Episode(task=f"write {n} through {path}")) for n in range(count)]
        print(json.dumps({"url": mem.url, "ids": ids}))


if __name__ == "__main__":
    open(f"{sys.argv[2]}.{os.getpid()}.ready", "w").close()
    with open(sys.argv[2], "rb"):
        pass
    anyio.run(main, sys.argv[1], int(sys.argv[3]), backend="asyncio")
