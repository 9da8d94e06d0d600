"""Server mode: ``memactor serve`` and `connect`, one memory shared by many processes over a socket.

The server is a client of the `memactor.actor` handle (it owns no writer of its own); the client implements the
same store API over the wire. May import everything below it: `memactor.errors`, `memactor.model`,
`memactor.codec`, `memactor.sqlite` (a ``local_reads`` client reads the file directly) and `memactor.actor`.
"""
