"""The actor: the single writer and its mailbox, the read lanes and pool, the `Memory` handle, stores and batch.

Owns every thread and task of an open memory and the order in which writes reach the engine. May import
`memactor.errors`, `memactor.model`, `memactor.codec` and the engine (`memactor.sqlite`); never the network.
"""
