"""The single sign-on settings as read from the environment, and the claims they read."""

from __future__ import annotations

from typing import Any

import pytest

from api.config import ConfigError, Settings
from api.sso.claims import claim_at, roles_of, scopes_for
from tests.identity.idp_server import ROLE_SCOPES

ENV = {
    "DEALDESK_OIDC_ISSUER": "https://login.example.com/tenant/v2.0",
    "DEALDESK_OIDC_CLIENT_ID": "dealdesk",
    "DEALDESK_PUBLIC_URL": "https://dealdesk.example.com/",
}


def test_the_defaults_are_key_sign_in_only() -> None:
    settings = Settings.from_env({})
    assert (settings.oidc_issuer, settings.console_key_signin) == (None, True)
    assert (settings.oidc_person_claim, settings.oidc_roles_claim) == ("email", "groups")
    assert settings.oidc_role_scopes == ()


def test_every_setting_is_read() -> None:
    env = {
        **ENV,
        "DEALDESK_OIDC_CLIENT_SECRET": "s3cret",
        "DEALDESK_OIDC_PERSON_CLAIM": "preferred_username",
        "DEALDESK_OIDC_ROLES_CLAIM": "realm_access.roles",
        "DEALDESK_OIDC_ROLE_SCOPES": ROLE_SCOPES + "; cn=it,ou=groups,dc=example=admin ;",
        "DEALDESK_CONSOLE_KEY_SIGNIN": "0",
    }
    settings = Settings.from_env(env)
    assert settings.oidc_issuer == "https://login.example.com/tenant/v2.0"
    assert settings.public_url == "https://dealdesk.example.com"  # no trailing slash
    assert settings.oidc_client_secret == "s3cret" and "s3cret" not in repr(settings)
    assert settings.oidc_person_claim == "preferred_username"
    assert settings.oidc_roles_claim == "realm_access.roles"
    assert settings.oidc_role_scopes == (
        ("finance", ("audit:read", "audit:review")),
        ("deal-desk", ("audit:read", "requests", "approvals", "policies")),
        ("it", ("admin",)),
        ("cn=it,ou=groups,dc=example", ("admin",)),
    )
    assert settings.console_key_signin is False


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"DEALDESK_OIDC_ISSUER": "https://idp.example"},
            "DEALDESK_OIDC_ISSUER is set: DEALDESK_OIDC_CLIENT_ID and DEALDESK_PUBLIC_URL"
            " must be set too",
        ),
        (
            {**ENV, "DEALDESK_OIDC_ISSUER": "idp.example"},
            "DEALDESK_OIDC_ISSUER='idp.example' is not an http(s) URL",
        ),
        (
            {"DEALDESK_CONSOLE_KEY_SIGNIN": "0"},
            "DEALDESK_CONSOLE_KEY_SIGNIN=0 needs DEALDESK_OIDC_ISSUER: no sign-in",
        ),
        (
            {**ENV, "DEALDESK_OIDC_ROLE_SCOPES": "finance"},
            "DEALDESK_OIDC_ROLE_SCOPES: 'finance' is not role=scope[,scope...]"
            " (entries separated by ;)",
        ),
        (
            {**ENV, "DEALDESK_OIDC_ROLE_SCOPES": "finance=audit:read;=admin"},
            "DEALDESK_OIDC_ROLE_SCOPES: '=admin' is not role=scope[,scope...]"
            " (entries separated by ;)",
        ),
    ],
    ids=["issuer alone", "not a URL", "no way in", "no scopes", "no role"],
)
def test_unusable_settings_are_refused(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env(env)
    assert str(caught.value) == message


def test_an_unknown_scope_is_refused() -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({**ENV, "DEALDESK_OIDC_ROLE_SCOPES": "finance=audit:rad"})
    assert str(caught.value).startswith(
        "DEALDESK_OIDC_ROLE_SCOPES: role 'finance' names unknown scope(s) audit:rad; choose from"
        " evaluate, requests,"
    )


CLAIMS: dict[str, Any] = {
    "groups": ["finance", 3, "", "finance"],
    "realm_access": {"roles": "deal-desk"},
    "https://example.com/roles": ["it"],
}


def test_claims_by_name_and_by_dotted_path() -> None:
    assert claim_at(CLAIMS, "realm_access.roles") == "deal-desk"
    assert claim_at(CLAIMS, "https://example.com/roles") == ["it"]  # a name holding dots
    assert claim_at(CLAIMS, "realm_access.missing") is None
    assert claim_at(CLAIMS, "groups.roles") is None
    assert roles_of(CLAIMS, "groups") == ("finance",)
    assert roles_of(CLAIMS, "realm_access.roles") == ("deal-desk",)
    assert roles_of({"groups": {"finance": True}}, "groups") == ()


def test_scopes_of_roles() -> None:
    mapping = Settings.from_env({**ENV, "DEALDESK_OIDC_ROLE_SCOPES": ROLE_SCOPES}).oidc_role_scopes
    assert scopes_for(("deal-desk", "finance"), mapping) == (
        "audit:read",
        "audit:review",
        "requests",
        "approvals",
        "policies",
    )
    assert scopes_for(("Finance",), mapping) == ()  # role names match exactly
