"""The pure token rules: what counts as a JWT, scopes from claims, the client named, and the
bounded cache of verified grants."""

from __future__ import annotations

import pytest

from api.identity.tokens import (
    Grant,
    GrantCache,
    TokenRefused,
    client_of,
    grant_of,
    looks_like_jwt,
    scopes_of,
)


def test_three_parts_is_a_jwt() -> None:
    assert looks_like_jwt("a.b.c") and looks_like_jwt("..")
    assert not looks_like_jwt("ddk_abc-DEF_123") and not looks_like_jwt("a.b")
    assert not looks_like_jwt("a.b.c.d")


def test_scopes_come_from_scope_scp_and_roles() -> None:
    claims = {
        "scope": "openid dealdesk:evaluate  dealdesk:requests",
        "scp": ["dealdesk:approvals", 7, "profile"],
        "roles": ["dealdesk:audit:read", "Task.Read", "dealdesk:"],
    }
    assert scopes_of(claims) == ("approvals", "audit:read", "evaluate", "requests")
    assert scopes_of({"scp": "dealdesk:people dealdesk:people"}) == ("people",)
    assert scopes_of({"scope": {"dealdesk:admin": True}, "roles": "dealdesk:admin"}) == ("admin",)
    assert scopes_of({}) == ()


def test_the_client_is_client_id_then_azp_then_appid_then_sub() -> None:
    assert client_of({"client_id": "a", "azp": "b", "sub": "c"}) == "a"
    assert client_of({"client_id": "", "azp": "b", "sub": "c"}) == "b"
    assert client_of({"appid": "v1-app", "sub": "c"}) == "v1-app"
    assert client_of({"sub": "c", "client_id": 5}) == "c"
    with pytest.raises(TokenRefused, match="names no client"):
        client_of({"iss": "x"})
    with pytest.raises(TokenRefused, match="longer than 256"):
        client_of({"client_id": "x" * 257})


def test_a_grant_lasts_until_exp_plus_leeway() -> None:
    grant = grant_of({"exp": 1000, "client_id": "cpq", "scope": "dealdesk:evaluate"})
    assert grant == Grant("cpq", ("evaluate",), 1060.0)
    assert grant.actor == "jwt:cpq"
    with pytest.raises(TokenRefused, match="numeric `exp`"):
        grant_of({"exp": True, "client_id": "cpq"})


def test_the_cache_forgets_expired_grants_and_stays_bounded() -> None:
    cache = GrantCache(size=10)
    for n in range(10):
        cache.put(f"t{n}", Grant("c", (), 100.0 if n < 5 else 500.0), now=0)
    assert cache.get("t1", now=99) is not None
    assert cache.get("t1", now=100) is None
    cache.put("t10", Grant("c", (), 500.0), now=200)
    assert len(cache) == 10  # t1 went when it was found expired
    cache.put("t11", Grant("c", (), 500.0), now=200)  # over the size: the expired go first
    assert len(cache) == 7
    for n in range(12, 20):
        cache.put(f"t{n}", Grant("c", (), 500.0), now=200)
    assert len(cache) <= 10
    assert cache.get("t19", now=200) is not None
    assert cache.get("t5", now=200) is None  # the oldest went
