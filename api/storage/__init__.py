"""ALL SQL lives here: one module per aggregate.

Functions take a psycopg connection first and never commit: the caller owns the transaction
(`database.transaction`). Values are always bound parameters. Database failures become
domain errors (`Unavailable`, `Conflict`) at this boundary.
"""
