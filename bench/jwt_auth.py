"""What an access token costs an evaluation beside an API key (DESIGN 13; target: at most 5%
more). One server, configured with a token issuer served from this process on loopback (a
real discovery document and JWKS), takes the same evaluation load authenticated by an API key
and by a JWT in alternating rounds; the figure is the median of the rounds' key/token
throughput ratios. Beside it, in process and less exposed to a shared machine's noise: the
fast lane's authentication step for each (interleaved, median microseconds), and one RS256
verification against its cached lookup.

Run alone with `.venv/bin/python bench/jwt_auth.py` (its own scratch database; BENCH_SECONDS,
BENCH_ROUNDS), or as part of `make bench` (bench/run.py).
"""

from __future__ import annotations

import json
import os
import signal
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from api.http.access_tokens import JwksCache, TokenVerifier  # noqa: E402
from bench import run  # noqa: E402
from tests.http.issuer import AUDIENCE, Issuer, ec_key, rsa_key, serving  # noqa: E402


def measure(url: str, key: str) -> dict[str, Any]:
    issuer = Issuer()
    issuer.add("rsa1", rsa_key())
    issuer.add("ec1", ec_key())
    with serving(issuer):
        token = issuer.token(scope="dealdesk:evaluate", exp=int(time.time()) + 3600)
        port = run.free_port()
        server = run.start_server(
            url, port, {"DEALDESK_JWT_ISSUER": issuer.url, "DEALDESK_JWT_AUDIENCE": AUDIENCE}
        )
        body = json.dumps(run.deal())
        rounds = []
        try:
            run.seed_org(port, key)
            status, _ = run.call(port, "POST", "/v1/evaluations", token, run.deal())
            assert status == 200, status
            for n in range(run.ROUNDS):
                by_key = {"BENCH_KEY": key, "BENCH_BODY": body}
                by_token = {"BENCH_KEY": token, "BENCH_BODY": body}
                pair = [("key", by_key), ("token", by_token)]
                measured = {
                    side: run.load(port, "/v1/evaluations", "evaluate.lua", env)
                    for side, env in (pair if n % 2 == 0 else pair[::-1])
                }
                rounds.append(measured)
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
        micro = verification_cost(issuer)
        micro.update(auth_step_cost(url, key, token, issuer.url))
    ratios = [r["key"]["rps"] / r["token"]["rps"] for r in rounds if r["token"]["rps"]]
    return {
        "key_rps": statistics.median(r["key"]["rps"] for r in rounds),
        "token_rps": statistics.median(r["token"]["rps"] for r in rounds),
        "key_p99_ms": statistics.median(r["key"]["p99_ms"] or 0.0 for r in rounds),
        "token_p99_ms": statistics.median(r["token"]["p99_ms"] or 0.0 for r in rounds),
        "key_over_token": statistics.median(ratios) if ratios else 0.0,
        "non_2xx": sum(r["key"]["non_2xx"] + r["token"]["non_2xx"] for r in rounds),
        "jwks_fetches": issuer.fetches,
        "verification": micro,
        "rounds": rounds,
        "tool": rounds[0]["key"]["tool"] if rounds else None,
    }


def verification_cost(issuer: Issuer, n: int = 300) -> dict[str, float]:
    """Median microseconds: a first verification (signature, claims) and a cached one."""
    verifier = TokenVerifier(issuer.url, AUDIENCE, JwksCache(issuer.url))
    tokens = [issuer.token(jti=str(i)) for i in range(n)]
    verifier.verify(tokens[0])  # the keys, fetched once
    first, cached = [], []
    for token in tokens[1:]:
        started = time.perf_counter()
        verifier.verify(token)
        first.append((time.perf_counter() - started) * 1e6)
        started = time.perf_counter()
        verifier.verify(token)
        cached.append((time.perf_counter() - started) * 1e6)
    return {"first_us": statistics.median(first), "cached_us": statistics.median(cached)}


def auth_step_cost(
    url: str, key: str, token: str, issuer_url: str, n: int = 5000
) -> dict[str, float]:
    """The fast lane's `_key` (bearer -> caller and generation) for the key and the token,
    interleaved; median microseconds each, after a warm-up that caches both."""
    from api.app import create_app
    from api.config import Settings

    settings = Settings(
        database_url=url,
        policy_dir=ROOT / "policies",
        jwt_issuer=issuer_url,
        jwt_audience=AUDIENCE,
        metrics=False,
    )
    app = create_app(settings)
    lane = app.wsgi_app
    runtime = app.extensions["dealdesk"]
    timings: dict[str, list[float]] = {"key": [], "token": []}
    environs = {
        side: {"HTTP_AUTHORIZATION": f"Bearer {v}"} for side, v in (("key", key), ("token", token))
    }
    try:
        for side in timings:
            assert lane._key(environs[side]) is not None  # type: ignore[attr-defined]
        for i in range(n):
            for side in ("key", "token") if i % 2 else ("token", "key"):
                started = time.perf_counter()
                lane._key(environs[side])  # type: ignore[attr-defined]
                timings[side].append((time.perf_counter() - started) * 1e6)
    finally:
        runtime.pool.close()
        runtime.quick.close()
    return {f"lane_{side}_us": statistics.median(values) for side, values in timings.items()}


def report(r: dict[str, Any]) -> None:
    extra = (r["key_over_token"] - 1) * 100
    print(
        f"{'evaluations, API key / JWT':32} {r['key_rps']:>10.0f} / {r['token_rps']:.0f} req/s  "
        f"p99 {r['key_p99_ms']:.1f} / {r['token_p99_ms']:.1f} ms   the token costs "
        f"{extra:+.1f}% (median of {run.ROUNDS} alternating rounds; target <= +5%)"
    )
    v = r["verification"]
    print(
        f"{'JWT verification, first/cached':32} {v['first_us']:>10.0f} / {v['cached_us']:.1f} us "
        f"per token (RS256); JWKS fetched {r['jwks_fetches']}x; non-2xx {r['non_2xx']}"
    )
    print(
        f"{'auth step in the fast lane':32} {v['lane_key_us']:>10.1f} / "
        f"{v['lane_token_us']:.1f} us (API key / JWT, interleaved medians)"
    )


def main() -> int:
    url = run.scratch_database("dealdesk_bench_jwt")
    with psycopg.connect(url) as conn:
        key, _ = run.issue_key(conn, "bench", ["admin"], "bench")
        run.POSTMASTER.append(run.cpu.postmaster_pid(conn))
    result = measure(url, key)
    report(result)
    out = ROOT / "bench" / "results.json"
    existing = json.loads(out.read_text()) if out.exists() else {}
    existing["jwt_auth"] = {"seconds": run.SECONDS, "results": result}
    out.write_text(json.dumps(existing, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
