"""The webhook dispatcher: claim due deliveries, send them signed, record every attempt.

Claims take `FOR UPDATE SKIP LOCKED` and stamp a lease in a short transaction that commits
before anything is sent; no transaction is open while a request is in flight; the outcome
is saved only while the lease token still matches. A dispatcher killed mid-send loses
nothing: its deliveries are claimed again when their lease lapses (same `webhook-id`).
"""
