"""dealdesk: a policy-as-code approval API that keeps deal authority with the account manager."""
