"""PURE identity core: SCIM resources <-> people, SCIM PATCH and filters (DESIGN 13).

Nothing here imports Flask, marshmallow or psycopg: the SCIM blueprint (api/http/scim.py)
parses the body, this package reads it into plain values, and api/service/scim.py stores them.
"""
