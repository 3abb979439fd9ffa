"""override_totals (the console overview's per-quarter totals) always equals the aggregate
of overrides: kept by a trigger through inserts, reviews and edits, and filled when new."""

from __future__ import annotations

from typing import Any

import psycopg
from flask.testing import FlaskClient

from api.storage.database import apply_schema

AGGREGATE = """
SELECT fiscal_year, fiscal_quarter, count(*), sum(excess_value),
       count(*) FILTER (WHERE period_end),
       coalesce(sum(excess_value) FILTER (WHERE period_end), 0),
       count(*) FILTER (WHERE review_status = 'pending')
FROM overrides GROUP BY 1, 2 ORDER BY 1, 2
"""
TOTALS = "SELECT * FROM override_totals WHERE count > 0 ORDER BY 1, 2"


def both(db: str) -> tuple[list[Any], list[Any]]:
    with psycopg.connect(db) as conn:
        return conn.execute(TOTALS).fetchall(), conn.execute(AGGREGATE).fetchall()


def test_totals_follow_inserts_reviews_and_edits(
    client: FlaskClient, overrides: list[dict[str, Any]], admin: dict[str, str], db: str
) -> None:
    totals, aggregate = both(db)
    assert totals == aggregate
    assert [tuple(r[2:]) for r in totals] == [(3, 30000, 0, 0, 3)]
    review = {"reviewer_id": "cfo.chen", "status": "accepted", "note": "Seen and accepted."}
    response = client.post(
        f"/v1/overrides/{overrides[0]['id']}/reviews", json=review, headers=admin
    )
    assert response.status_code == 201
    again = {**review, "status": "questioned"}
    client.post(f"/v1/overrides/{overrides[0]['id']}/reviews", json=again, headers=admin)
    totals, aggregate = both(db)
    assert totals == aggregate and totals[0][6] == 2
    with psycopg.connect(db) as conn:
        conn.execute(
            "UPDATE overrides SET period_end = true, fiscal_quarter = 3 WHERE deal_id = 'Q-2'"
        )
    totals, aggregate = both(db)
    assert totals == aggregate and len(totals) == 2


def test_a_new_totals_table_is_filled_from_the_overrides(
    overrides: list[dict[str, Any]], db: str
) -> None:
    with psycopg.connect(db) as conn:
        conn.execute("TRUNCATE override_totals")
    with psycopg.connect(db) as conn:
        apply_schema(conn)
    totals, aggregate = both(db)
    assert totals == aggregate and totals != []
    with psycopg.connect(db) as conn:
        apply_schema(conn)  # idempotent: a second start adds nothing
    assert both(db)[0] == totals
