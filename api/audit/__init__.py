"""PURE audit chain: the canonical JSON of an event and the sha256 chain that links events.

hash = sha256(prev_hash || canonical JSON of {id, at, type, actor, subject, payload}); the
first event's prev_hash is 64 zeros. Verifying walks events in id order and names the first
whose prev_hash or hash does not match, which catches both edits and deletions.
"""
