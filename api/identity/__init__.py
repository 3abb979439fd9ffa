"""Identity rules, pure: what a verified access token grants and whom it names (DESIGN 13).

No I/O here: the JWKS fetching and signature checks are adapters at the edge
(api/http/access_tokens.py); this package turns verified claims into scopes and an actor."""
