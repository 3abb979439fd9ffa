"""The decision-log writer: one process per instance, beside the gunicorn workers, that turns
the workers' one-row decision-log inserts into one multi-row insert per commit.

Sync workers cannot batch on their own (each has one request in flight). Over a Unix socket
each worker sends its preview row and waits for its own row's verdict; the writer commits
whatever has arrived while the previous commit was in flight, in one durable transaction,
and answers each row: written, refused by the generation guard, unstorable, or not written.
A worker whose writer dies while it waits answers 503, never a 2xx.
"""
