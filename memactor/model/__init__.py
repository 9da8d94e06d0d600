"""What memory *is*, whatever stores it: records, commands, queries, filters, ranking, statistics, validation,
and the in-memory side of vector search that both engines share (`vcache`: a reader's matrix caught up from an
engine's vector log; `vrank`: vector and hybrid ranking; `ann`: the optional approximate index).

Engine-neutral and free of I/O: nothing here opens a file or a socket (the engines supply every read); the one
thread is `ann`'s, which builds an index in memory. May import `memactor.errors` and nothing else of the
package; everything above builds on it.
"""
