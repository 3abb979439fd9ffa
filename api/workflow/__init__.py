"""PURE approval workflow: request and step states, approver routing, and who may act.

Given the policy, the decision and the people involved (as plain data), these functions say
which steps a request needs, who is assigned to each, what state the request is in, and
whether an actor may act on the current step. No Flask, no database, no clock.
"""
