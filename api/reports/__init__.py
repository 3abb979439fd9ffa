"""PURE report arithmetic (DESIGN section 9): bands and bunching, days-to-quarter-end buckets,
nearest-rank percentiles and shares. Numbers in, numbers out, all Decimal; no I/O, no Flask,
no psycopg. Storage hands in counted histograms; the service turns the results into items."""
