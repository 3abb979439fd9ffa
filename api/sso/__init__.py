"""Single sign-on: the OpenID Connect relying party the console signs people in through.

claims.py is pure (claims in, person identifier, roles and scopes out); provider.py does the
provider's HTTP (discovery, code exchange, JWKS) and verifies the ID token.
"""
