"""PURE identity core (DESIGN 13): what a verified access token grants and whom it names, and
SCIM resources <-> people, SCIM PATCH and filters.

Nothing here imports Flask, marshmallow or psycopg. The JWKS fetching and signature checks are
adapters at the edge (api/http/access_tokens.py); the SCIM blueprint (api/http/scim.py) parses
the body, this package reads it into plain values, and api/service/scim.py stores them.
"""
