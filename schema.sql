-- dealdesk schema: the whole of it. Idempotent: applied by `dealdesk db init` and at start,
-- under an advisory lock so that several processes starting at once cannot race.
-- Requires PostgreSQL 14 or later (CREATE OR REPLACE TRIGGER).

CREATE TABLE IF NOT EXISTS people (
    id            text PRIMARY KEY,
    name          text NOT NULL,
    tier          text NOT NULL,
    manager_id    text REFERENCES people (id),
    active        boolean NOT NULL DEFAULT true,
    email         text,
    delegate_id   text REFERENCES people (id),
    delegate_from date,
    delegate_to   date,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS people_manager_idx ON people (manager_id);
CREATE INDEX IF NOT EXISTS people_tier_idx ON people (tier) WHERE active;

CREATE TABLE IF NOT EXISTS api_keys (
    id         bigserial PRIMARY KEY,
    name       text NOT NULL,
    key_hash   text NOT NULL UNIQUE,        -- sha256 of the key; the key itself is never stored
    scopes     text[] NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz
);
-- A name is reused only after its key is revoked.
CREATE UNIQUE INDEX IF NOT EXISTS api_keys_active_name_idx ON api_keys (name) WHERE revoked_at IS NULL;

-- The registry generation: one counter, bumped in the same transaction as any change to
-- people or API keys. Processes keep keys and people in memory for the evaluation path and
-- write decisions only "if the generation is still n", so a change can never go unseen.
CREATE TABLE IF NOT EXISTS registry_generation (
    one boolean PRIMARY KEY DEFAULT true CHECK (one),
    n   bigint NOT NULL
);
INSERT INTO registry_generation (one, n) VALUES (true, 1) ON CONFLICT (one) DO NOTHING;
CREATE OR REPLACE FUNCTION registry_generation_bump() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE registry_generation SET n = n + 1;
    RETURN NULL;
END $$;
CREATE OR REPLACE TRIGGER people_generation
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON people
    FOR EACH STATEMENT EXECUTE FUNCTION registry_generation_bump();
CREATE OR REPLACE TRIGGER api_keys_generation
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON api_keys
    FOR EACH STATEMENT EXECUTE FUNCTION registry_generation_bump();

-- Exact bytes of every policy ever loaded, so replay and audit never depend on git history.
CREATE TABLE IF NOT EXISTS policy_versions (
    sha256         text PRIMARY KEY,
    name           text NOT NULL,
    version        text NOT NULL,
    status         text NOT NULL,
    file           text NOT NULL,
    source         bytea NOT NULL,
    first_loaded_at timestamptz NOT NULL DEFAULT now()
);

-- The decision log: every evaluation (preview) with its input and output. Not chained.
CREATE TABLE IF NOT EXISTS decisions (
    id            uuid PRIMARY KEY,
    created_at    timestamptz NOT NULL DEFAULT now(),
    as_of         date NOT NULL,
    deal_id       text NOT NULL,
    requester_id  text NOT NULL,
    owner_id      text NOT NULL,
    input         jsonb NOT NULL,
    output        jsonb NOT NULL,
    outcome       text NOT NULL,
    policy_sha256 text NOT NULL,
    kind          text NOT NULL DEFAULT 'evaluation',   -- evaluation | submission | revision
    shadow        jsonb NOT NULL DEFAULT '[]'          -- shadow policies' results beside it
);
ALTER TABLE decisions ADD COLUMN IF NOT EXISTS kind text NOT NULL DEFAULT 'evaluation';
ALTER TABLE decisions ADD COLUMN IF NOT EXISTS shadow jsonb NOT NULL DEFAULT '[]';
CREATE INDEX IF NOT EXISTS decisions_created_idx ON decisions (created_at);

-- The tamper-evident log. hash = sha256(prev_hash || canonical JSON of the row).
CREATE TABLE IF NOT EXISTS audit_events (
    id        bigint PRIMARY KEY,
    at        timestamptz NOT NULL,
    type      text NOT NULL,
    actor     text NOT NULL,
    subject   text NOT NULL,
    payload   jsonb NOT NULL,
    prev_hash text NOT NULL,
    hash      text NOT NULL UNIQUE
);
CREATE SEQUENCE IF NOT EXISTS audit_events_id_seq OWNED BY audit_events.id;

CREATE OR REPLACE FUNCTION audit_events_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_events is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE OR REPLACE TRIGGER audit_events_no_change
    BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();
CREATE OR REPLACE TRIGGER audit_events_no_truncate
    BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only();

CREATE TABLE IF NOT EXISTS approval_requests (
    id            uuid PRIMARY KEY,
    deal_id       text NOT NULL,
    state         text NOT NULL,
    owner_id      text NOT NULL REFERENCES people (id),
    requested_by  text NOT NULL REFERENCES people (id),
    deal          jsonb NOT NULL,
    decision      jsonb NOT NULL,
    policy_sha256 text NOT NULL,
    stuck_reason  text,
    reason_code   text,
    justification text,
    current_step  integer,
    version       integer NOT NULL DEFAULT 1,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);
-- At most one open request per deal: a second submission is a 409, even under a race.
CREATE UNIQUE INDEX IF NOT EXISTS approval_requests_open_deal_idx
    ON approval_requests (deal_id) WHERE state IN ('pending', 'returned', 'stuck');
CREATE INDEX IF NOT EXISTS approval_requests_deal_idx ON approval_requests (deal_id, created_at);
CREATE INDEX IF NOT EXISTS approval_requests_owner_idx ON approval_requests (owner_id, created_at);
CREATE INDEX IF NOT EXISTS approval_requests_state_idx ON approval_requests (state, created_at);

CREATE TABLE IF NOT EXISTS approval_steps (
    request_id  uuid NOT NULL REFERENCES approval_requests (id),
    seq         integer NOT NULL,
    tier        text NOT NULL,
    approver_id text REFERENCES people (id),
    state       text NOT NULL,
    acted_by    text,
    acted_at    timestamptz,
    comment     text,
    PRIMARY KEY (request_id, seq)
);
CREATE INDEX IF NOT EXISTS approval_steps_approver_idx ON approval_steps (approver_id) WHERE state = 'pending';

-- Idempotency-Key: the first response to a key, replayed for 24 hours or more.
CREATE TABLE IF NOT EXISTS idempotency_keys (
    api_key_id  bigint NOT NULL,
    key         text NOT NULL,
    method      text NOT NULL,
    path        text NOT NULL,
    body_sha256 text NOT NULL,
    status      integer,
    headers     jsonb,
    body        bytea,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (api_key_id, key)
);
CREATE INDEX IF NOT EXISTS idempotency_keys_created_idx ON idempotency_keys (created_at);

CREATE TABLE IF NOT EXISTS overrides (
    id                 uuid PRIMARY KEY,
    seq                bigserial UNIQUE,
    request_id         uuid REFERENCES approval_requests (id),
    deal_id            text NOT NULL,
    owner_id           text NOT NULL,
    owner_tier         text NOT NULL,
    executive_id       text NOT NULL,
    executive_tier     text NOT NULL,
    categories         text[] NOT NULL,
    terms_before       jsonb NOT NULL,
    terms_after        jsonb NOT NULL,
    excess             jsonb NOT NULL,
    excess_value       numeric(20, 2) NOT NULL,
    currency           text NOT NULL,
    reason_code        text NOT NULL,
    justification      text NOT NULL,
    fiscal_year        integer NOT NULL,
    fiscal_quarter     integer NOT NULL,
    period_end         boolean NOT NULL,
    period             jsonb NOT NULL,
    policy_name        text NOT NULL,
    policy_version     text NOT NULL,
    policy_sha256      text NOT NULL,
    review_status      text NOT NULL DEFAULT 'pending',
    owner_acknowledged boolean NOT NULL DEFAULT false,
    acknowledged_at    timestamptz,
    created_at         timestamptz NOT NULL DEFAULT now(),
    created_on         date NOT NULL,
    event_hash         text NOT NULL
);
CREATE INDEX IF NOT EXISTS overrides_created_idx ON overrides (created_on, seq);
CREATE INDEX IF NOT EXISTS overrides_fiscal_idx ON overrides (fiscal_year, fiscal_quarter, seq);
CREATE INDEX IF NOT EXISTS overrides_fiscal_year_idx ON overrides (fiscal_year, seq);
CREATE INDEX IF NOT EXISTS overrides_executive_idx ON overrides (executive_id, seq);
CREATE INDEX IF NOT EXISTS overrides_owner_idx ON overrides (owner_id, seq);
CREATE INDEX IF NOT EXISTS overrides_review_idx ON overrides (review_status, seq);
CREATE INDEX IF NOT EXISTS overrides_period_end_idx ON overrides (period_end, seq);
CREATE INDEX IF NOT EXISTS overrides_categories_idx ON overrides USING gin (categories);
CREATE INDEX IF NOT EXISTS overrides_request_idx ON overrides (request_id);

CREATE TABLE IF NOT EXISTS override_reviews (
    id          bigserial PRIMARY KEY,
    override_id uuid NOT NULL REFERENCES overrides (id),
    reviewer_id text NOT NULL,
    status      text NOT NULL,
    note        text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS override_reviews_override_idx ON override_reviews (override_id, id);

-- Webhooks (DESIGN section 8). Subscriptions keep their secrets encrypted (AES-GCM under
-- DEALDESK_SECRET_KEY); a deleted one keeps its row (deleted_at) so its deliveries stay readable.
CREATE TABLE IF NOT EXISTS webhook_subscriptions (
    id               bigserial PRIMARY KEY,
    url              text NOT NULL,
    event_types      text[] NOT NULL,
    description      text,
    enabled          boolean NOT NULL DEFAULT true,
    disabled_reason  text,
    secret_enc       bytea NOT NULL,
    old_secret_enc   bytea,
    old_secret_until timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    last_success_at  timestamptz,
    failing_since    timestamptz,
    deleted_at       timestamptz
);

-- The outbox: one row per event, written in the transaction of its change. `body` is the
-- exact JSON text sent on every attempt (text, not jsonb, which would reorder keys).
CREATE TABLE IF NOT EXISTS webhook_events (
    id         text PRIMARY KEY,
    sequence   bigint NOT NULL,
    type       text NOT NULL,
    created_at timestamptz NOT NULL,
    body       text NOT NULL
);
CREATE INDEX IF NOT EXISTS webhook_events_sequence_idx ON webhook_events (sequence);

-- One row per (event, subscription), fanned out in the same transaction; claimed by
-- dispatchers with FOR UPDATE SKIP LOCKED and a lease (lease_token guards the outcome).
CREATE TABLE IF NOT EXISTS webhook_deliveries (
    id               bigserial PRIMARY KEY,
    event_id         text NOT NULL REFERENCES webhook_events (id),
    subscription_id  bigint NOT NULL REFERENCES webhook_subscriptions (id),
    event_type       text NOT NULL,
    status           text NOT NULL DEFAULT 'pending',   -- pending | delivered | failed
    tries            integer NOT NULL DEFAULT 0,      -- attempts since made or redelivered
    next_attempt_at  timestamptz NOT NULL,
    lease_until      timestamptz,
    lease_token      uuid,
    created_at       timestamptz NOT NULL,
    delivered_at     timestamptz,
    last_status_code integer,
    last_error       text,
    UNIQUE (event_id, subscription_id)
);
CREATE INDEX IF NOT EXISTS webhook_deliveries_due_idx
    ON webhook_deliveries (next_attempt_at, id) WHERE status = 'pending';
CREATE INDEX IF NOT EXISTS webhook_deliveries_subscription_idx
    ON webhook_deliveries (subscription_id, id);

CREATE TABLE IF NOT EXISTS webhook_attempts (
    id          bigserial PRIMARY KEY,
    delivery_id bigint NOT NULL REFERENCES webhook_deliveries (id),
    at          timestamptz NOT NULL,
    status_code integer,
    duration_ms integer NOT NULL,
    error       text
);
CREATE INDEX IF NOT EXISTS webhook_attempts_delivery_idx ON webhook_attempts (delivery_id, id);

-- Checkpoints of the audit chain sent as `audit.checkpoint` events.
CREATE TABLE IF NOT EXISTS audit_checkpoints (
    event_id bigint PRIMARY KEY,
    hash     text NOT NULL,
    events   bigint NOT NULL,
    at       timestamptz NOT NULL DEFAULT now()
);
