"""The hash chain, pure: canonical JSON is the standard library's sorted compact form for any
payload, and verify names the first event that does not match."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from api.audit.chain import GENESIS, canonical, chain_hash, event_time, verify

JSON = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**63), max_value=2**63 - 1) | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4)
    ),
    max_leaves=20,
)
AT = datetime(2026, 11, 22, 14, 5, 6, 789012, tzinfo=UTC)


@settings(max_examples=300, deadline=None)
@given(payload=st.dictionaries(st.text(), JSON, max_size=6), subject=st.text())
def test_canonical_is_the_standard_sorted_compact_json(
    payload: dict[str, Any], subject: str
) -> None:
    expected = json.dumps(
        {
            "id": 7,
            "at": "2026-11-22T14:05:06.789012Z",
            "type": "t",
            "actor": "a",
            "subject": subject,
            "payload": payload,
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    ).encode()
    assert canonical(7, AT, "t", "a", subject, payload) == expected
    assert canonical(7, event_time(AT), "t", "a", subject, payload) == expected


def rows(n: int) -> list[tuple[int, str, str, str, str, str, str, str]]:
    chain, prev = [], GENESIS
    for i in range(1, n + 1):
        payload = {"i": i, "note": "é😀\n"}
        digest = chain_hash(prev, i, AT, "t", "actor", f"s:{i}", payload)
        chain.append((i, event_time(AT), "t", "actor", f"s:{i}", json.dumps(payload), prev, digest))
        prev = digest
    return chain


def test_verify_walks_a_good_chain() -> None:
    chain = rows(5)
    result = verify(chain)
    assert (result.ok, result.events, result.head_hash, result.first_bad_event_id) == (
        True,
        5,
        chain[-1][7],
        None,
    )


def test_verify_names_an_edit_and_a_deletion() -> None:
    edited = rows(5)
    edited[2] = (*edited[2][:3], "someone-else", *edited[2][4:])
    assert verify(edited).first_bad_event_id == 3
    deleted = rows(5)
    del deleted[1]
    assert verify(deleted).first_bad_event_id == 3
    assert verify([]).ok and verify([]).head_hash == GENESIS
