"""PURE policy core: the policy model, its loader, CEL conditions and `evaluate()`.

Nothing here imports Flask, marshmallow or psycopg, reads the clock or touches a database:
callers pass the policy, the deal, the parties and the date in, and get a frozen Decision back.
"""
