"""Use cases: one function per action. Each takes the caller's connection (the caller owns the
transaction), combines storage with the pure policy/workflow/audit cores, and raises domain
errors. No Flask and no marshmallow here."""
