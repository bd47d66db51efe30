"""audit — what happened, when, and by whom: a hash-chained, append-only log of every event."""
