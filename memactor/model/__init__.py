"""What memory *is*, whatever stores it: records, commands, queries, filters, ranking, statistics, validation.

Engine-neutral and free of I/O: nothing here opens a file, a socket or a thread. May import `memactor.errors`
and nothing else of the package; everything above builds on it.
"""
