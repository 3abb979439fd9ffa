"""The only place Flask and marshmallow appear: one blueprint per resource, the schemas,
authentication, and the one mapping from domain errors to problem+json."""
