"""The actor: the single writer and its mailbox, the read lanes and pool, the `Memory` handle, stores and batch.

Owns every thread and task of an open memory and the order in which writes reach the engine. May import
`memactor.errors`, `memactor.model`, `memactor.codec`, the engine seam (`memactor.engine`) and the engine picker
(`memactor.engines`); never an engine's package (`memactor.sqlite`) or a database driver directly, and never
the network.
"""
