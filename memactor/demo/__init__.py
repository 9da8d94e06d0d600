"""``memactor demo``: simulated agents sharing one memory file, with progress and a check of every promise.

A user of the public handle like any other: may import `memactor.errors`, `memactor.model` and `memactor.actor`.
"""
