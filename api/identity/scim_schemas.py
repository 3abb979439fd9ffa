"""The discovery documents (RFC 7643 5-7): what this server supports, and the User schema
as far as dealdesk keeps it. The tier extension lists the active policy's tiers."""

from __future__ import annotations

from typing import Any

from api.identity.scim_user import CORE, DEALDESK, ENTERPRISE

SPC_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
RT_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:ResourceType"
SCHEMA_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Schema"
LIST_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
MAX_COUNT = 1000


def attribute(name: str, kind: str = "string", **extra: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "name": name,
        "type": kind,
        "multiValued": False,
        "description": extra.pop("description", name),
        "required": False,
        "caseExact": False,
        "mutability": "readWrite",
        "returned": "default",
        "uniqueness": "none",
    }
    doc.update(extra)
    return doc


def service_provider_config(base: str) -> dict[str, Any]:
    return {
        "schemas": [SPC_SCHEMA],
        "patch": {"supported": True},
        "bulk": {"supported": False, "maxOperations": 0, "maxPayloadSize": 0},
        "filter": {"supported": True, "maxResults": MAX_COUNT},
        "changePassword": {"supported": False},
        "sort": {"supported": False},
        "etag": {"supported": False},
        "authenticationSchemes": [
            {
                "type": "oauthbearertoken",
                "name": "Bearer API key or access token",
                "description": "Authorization: Bearer <key>, with the `scim` scope.",
                "primary": True,
            }
        ],
        "meta": {
            "resourceType": "ServiceProviderConfig",
            "location": f"{base}/ServiceProviderConfig",
        },
    }


def resource_types(base: str) -> list[dict[str, Any]]:
    return [
        {
            "schemas": [RT_SCHEMA],
            "id": "User",
            "name": "User",
            "endpoint": "/Users",
            "description": "A person in the dealdesk registry",
            "schema": CORE,
            "schemaExtensions": [
                {"schema": ENTERPRISE, "required": False},
                {"schema": DEALDESK, "required": True},
            ],
            "meta": {"resourceType": "ResourceType", "location": f"{base}/ResourceTypes/User"},
        }
    ]


def schemas(base: str, tiers: tuple[str, ...]) -> list[dict[str, Any]]:
    return [
        _schema(base, CORE, "User", _core_attributes()),
        _schema(base, ENTERPRISE, "EnterpriseUser", [_manager()]),
        _schema(
            base,
            DEALDESK,
            "DealdeskUser",
            [
                attribute(
                    "tier",
                    required=True,
                    caseExact=True,
                    canonicalValues=list(tiers),
                    description="The person's tier in the active policy (default: the lowest).",
                )
            ],
        ),
    ]


def _schema(base: str, urn: str, name: str, attributes: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "schemas": [SCHEMA_SCHEMA],
        "id": urn,
        "name": name,
        "description": f"{name} as dealdesk keeps it",
        "attributes": attributes,
        "meta": {"resourceType": "Schema", "location": f"{base}/Schemas/{urn}"},
    }


def _core_attributes() -> list[dict[str, Any]]:
    name_parts = ("formatted", "familyName", "givenName", "middleName")
    email_type = attribute("type", canonicalValues=["work", "home", "other"])
    return [
        attribute("userName", required=True, uniqueness="server"),
        attribute("name", "complex", subAttributes=[attribute(p) for p in name_parts]),
        attribute("displayName"),
        attribute(
            "emails",
            "complex",
            multiValued=True,
            subAttributes=[attribute("value"), email_type, attribute("primary", "boolean")],
        ),
        attribute("active", "boolean", required=True),
    ]


def _manager() -> dict[str, Any]:
    return attribute(
        "manager",
        "complex",
        subAttributes=[
            attribute("value", description="The manager's id (a bare string is accepted too)"),
            attribute("$ref", "reference", referenceTypes=["User"]),
        ],
    )
