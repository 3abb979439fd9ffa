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
-- A people-bound key acts only as its person (DESIGN 10); NULL for CPQ systems' keys.
ALTER TABLE api_keys ADD COLUMN IF NOT EXISTS person_id text REFERENCES people (id);

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
-- (redefined near the end of this file, with a column list: see issue 24's block)
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

-- The policy set in force for the whole deployment: one row, seeded at generation 0 (nothing
-- published yet). Publishing replaces the set and bumps the generation in one transaction with
-- its `policy.published` audit event; every worker compares the generation it holds with this
-- row (folded into the statements it already runs) and reloads from policy_versions when stale.
CREATE TABLE IF NOT EXISTS policy_set (
    one            boolean PRIMARY KEY DEFAULT true CHECK (one),
    generation     bigint NOT NULL,
    active_sha256  text REFERENCES policy_versions (sha256),
    shadow_sha256s text[] NOT NULL DEFAULT '{}',   -- each one is in policy_versions too
    published_at   timestamptz,
    published_by   text
);
INSERT INTO policy_set (one, generation) VALUES (true, 0) ON CONFLICT (one) DO NOTHING;

-- The decision log: every evaluation (preview) with its input and output. Not chained.
-- Partitioned by month on the time-ordered id (api/storage/partitions.py makes the months;
-- `dealdesk db migrate` converts a table made by an earlier release, which this skips).
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
) PARTITION BY RANGE (id);
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
    excess_value       numeric NOT NULL,              -- cents; values carry up to 28 digits
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
-- Money of up to 28 significant digits: drop the old numeric(20, 2) bound (no rewrite).
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM information_schema.columns
               WHERE table_schema = current_schema() AND table_name = 'overrides'
                 AND column_name = 'excess_value' AND numeric_precision IS NOT NULL) THEN
        ALTER TABLE overrides ALTER COLUMN excess_value TYPE numeric;
    END IF;
END $$;
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

-- Finance console sign-ins. The cookie holds a signed random id; only its sha256 is kept here.
-- A row without a key is a visitor's, holding only the CSRF token of the sign-in form.
CREATE TABLE IF NOT EXISTS console_sessions (
    id_hash      text PRIMARY KEY,
    api_key_id   bigint REFERENCES api_keys (id),
    data         jsonb NOT NULL DEFAULT '{}',
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS console_sessions_key_idx ON console_sessions (api_key_id);
CREATE INDEX IF NOT EXISTS console_sessions_seen_idx ON console_sessions (last_seen_at);

-- The console's cookie-signing secret, made once so that every instance signs alike
-- (DEALDESK_SECRET_KEY replaces it). Knowing it forges no session: ids are random and kept
-- only as hashes.
CREATE TABLE IF NOT EXISTS console_secret (
    one    boolean PRIMARY KEY DEFAULT true CHECK (one),
    secret text NOT NULL
);

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

-- Report history (DESIGN section 9), written when it happens and never rewritten.
-- One row per submission and per revision: who asked, when (business date and real time),
-- the fiscal period at that moment and the close date's fiscal quarter.
CREATE TABLE IF NOT EXISTS asks (
    id                  bigserial PRIMARY KEY,
    request_id          uuid NOT NULL REFERENCES approval_requests (id),
    deal_id             text NOT NULL,
    kind                text NOT NULL,          -- submission | revision
    owner_id            text NOT NULL,
    requester_id        text NOT NULL,
    requester_tier      text NOT NULL,
    business_date       date NOT NULL,
    created_at          timestamptz NOT NULL,
    created_on          date NOT NULL,          -- UTC date of created_at: what from/to filter
    close_date          date,
    close_fiscal_year   integer,
    close_fiscal_quarter integer,
    slipped             boolean NOT NULL DEFAULT false,  -- a revision moving close_date to a later quarter
    fiscal_year         integer NOT NULL,
    fiscal_quarter      integer NOT NULL,
    days_to_quarter_end integer NOT NULL,
    flags               text[] NOT NULL
);
CREATE INDEX IF NOT EXISTS asks_created_idx ON asks (created_on)
    INCLUDE (kind, owner_id, slipped, flags, fiscal_year, fiscal_quarter, days_to_quarter_end);
CREATE INDEX IF NOT EXISTS asks_request_idx ON asks (request_id);

-- Each lever's value at an ask beside the requester's own ceiling under the rules that
-- matched, with the ask's grouping columns copied so a report reads one covering index.
CREATE TABLE IF NOT EXISTS ask_levers (
    ask_id              bigint NOT NULL REFERENCES asks (id),
    lever               text NOT NULL,
    value               numeric NOT NULL,
    ceiling             numeric NOT NULL,
    kind                text NOT NULL,
    created_on          date NOT NULL,
    owner_id            text NOT NULL,
    requester_tier      text NOT NULL,
    fiscal_year         integer NOT NULL,
    fiscal_quarter      integer NOT NULL,
    days_to_quarter_end integer NOT NULL,
    PRIMARY KEY (ask_id, lever)
);
CREATE INDEX IF NOT EXISTS ask_levers_created_idx ON ask_levers (created_on);
CREATE INDEX IF NOT EXISTS ask_levers_report_idx ON ask_levers (lever, created_on)
    INCLUDE (kind, owner_id, requester_tier, value, ceiling, fiscal_year, fiscal_quarter,
             days_to_quarter_end);

-- Every approve, reject and return as it happened (a revision may replace the steps).
CREATE TABLE IF NOT EXISTS step_actions (
    id         bigserial PRIMARY KEY,
    request_id uuid NOT NULL REFERENCES approval_requests (id),
    seq        integer NOT NULL,
    tier       text NOT NULL,
    actor_id   text NOT NULL,
    action     text NOT NULL,                   -- approve | reject | return
    acted_at   timestamptz NOT NULL,
    acted_on   date NOT NULL
);
CREATE INDEX IF NOT EXISTS step_actions_acted_idx ON step_actions (acted_on) INCLUDE (actor_id, action);

-- Withdrawals with their reason code, and what the withdrawn request asked, lever by lever.
CREATE TABLE IF NOT EXISTS withdrawals (
    request_id    uuid PRIMARY KEY REFERENCES approval_requests (id),
    deal_id       text NOT NULL,
    owner_id      text NOT NULL,
    reason_code   text,
    business_date date NOT NULL,
    withdrawn_at  timestamptz NOT NULL,
    withdrawn_on  date NOT NULL,
    asked         jsonb NOT NULL
);
CREATE INDEX IF NOT EXISTS withdrawals_declined_idx ON withdrawals (deal_id, business_date)
    WHERE reason_code = 'customer_declined';
CREATE INDEX IF NOT EXISTS withdrawals_on_idx ON withdrawals (withdrawn_on) INCLUDE (owner_id, reason_code);

-- Overrides as the reports read them: days to quarter end as a column, one covering index.
ALTER TABLE overrides ADD COLUMN IF NOT EXISTS days_to_quarter_end integer
    GENERATED ALWAYS AS ((period ->> 'days_to_quarter_end')::integer) STORED;
CREATE INDEX IF NOT EXISTS overrides_report_idx ON overrides (created_on)
    INCLUDE (executive_id, categories, fiscal_year, fiscal_quarter, days_to_quarter_end,
             excess_value);

-- Each fiscal quarter's override totals for the console's overview, kept by a trigger in the
-- same transaction as the override or its review, so the overview reads a few rows instead of
-- aggregating a million (overrides already append one after another under the audit lock, so
-- the upsert adds no contention). Filled once from `overrides` when the table is new.
CREATE TABLE IF NOT EXISTS override_totals (
    fiscal_year       integer NOT NULL,
    fiscal_quarter    integer NOT NULL,
    count             bigint NOT NULL,
    excess_value      numeric NOT NULL,
    period_end_count  bigint NOT NULL,
    period_end_excess numeric NOT NULL,
    pending_review    bigint NOT NULL,
    PRIMARY KEY (fiscal_year, fiscal_quarter)
);
CREATE OR REPLACE FUNCTION override_totals_track() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        UPDATE override_totals SET
            count = count - 1,
            excess_value = excess_value - OLD.excess_value,
            period_end_count = period_end_count - (CASE WHEN OLD.period_end THEN 1 ELSE 0 END),
            period_end_excess = period_end_excess
                - (CASE WHEN OLD.period_end THEN OLD.excess_value ELSE 0 END),
            pending_review = pending_review
                - (CASE WHEN OLD.review_status = 'pending' THEN 1 ELSE 0 END)
        WHERE fiscal_year = OLD.fiscal_year AND fiscal_quarter = OLD.fiscal_quarter;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO override_totals AS t VALUES (
            NEW.fiscal_year, NEW.fiscal_quarter, 1, NEW.excess_value,
            CASE WHEN NEW.period_end THEN 1 ELSE 0 END,
            CASE WHEN NEW.period_end THEN NEW.excess_value ELSE 0 END,
            CASE WHEN NEW.review_status = 'pending' THEN 1 ELSE 0 END)
        ON CONFLICT (fiscal_year, fiscal_quarter) DO UPDATE SET
            count = t.count + 1,
            excess_value = t.excess_value + EXCLUDED.excess_value,
            period_end_count = t.period_end_count + EXCLUDED.period_end_count,
            period_end_excess = t.period_end_excess + EXCLUDED.period_end_excess,
            pending_review = t.pending_review + EXCLUDED.pending_review;
    END IF;
    RETURN NULL;
END $$;
CREATE OR REPLACE TRIGGER overrides_totals
    AFTER INSERT OR DELETE OR UPDATE OF review_status, period_end, excess_value, fiscal_year,
        fiscal_quarter ON overrides
    FOR EACH ROW EXECUTE FUNCTION override_totals_track();
INSERT INTO override_totals
SELECT fiscal_year, fiscal_quarter, count(*), sum(excess_value),
       count(*) FILTER (WHERE period_end), coalesce(sum(excess_value) FILTER (WHERE period_end), 0),
       count(*) FILTER (WHERE review_status = 'pending')
FROM overrides
WHERE NOT EXISTS (SELECT 1 FROM override_totals)
GROUP BY fiscal_year, fiscal_quarter;

-- Monthly rollups of the report queries (api/storage/rollups.py): whole months that ended
-- days ago never change, so they are summed once; `report_rollups` says how far.
CREATE TABLE IF NOT EXISTS report_rollups (
    name    text PRIMARY KEY,
    through date NOT NULL
);
CREATE TABLE IF NOT EXISTS rollup_offsets (
    month date NOT NULL, lever text NOT NULL, requester_tier text NOT NULL,
    owner_id text NOT NULL, "offset" numeric NOT NULL, n bigint NOT NULL
);
CREATE INDEX IF NOT EXISTS rollup_offsets_idx ON rollup_offsets (lever, month);
CREATE TABLE IF NOT EXISTS rollup_submissions (
    month date NOT NULL, fiscal_year integer NOT NULL, fiscal_quarter integer NOT NULL,
    bucket integer NOT NULL, n bigint NOT NULL
);
CREATE INDEX IF NOT EXISTS rollup_submissions_idx ON rollup_submissions (month);
CREATE TABLE IF NOT EXISTS rollup_submitted_values (
    month date NOT NULL, lever text NOT NULL, fiscal_year integer NOT NULL,
    fiscal_quarter integer NOT NULL, bucket integer NOT NULL, value numeric NOT NULL,
    n bigint NOT NULL
);
CREATE INDEX IF NOT EXISTS rollup_submitted_values_idx ON rollup_submitted_values (lever, month);
CREATE TABLE IF NOT EXISTS rollup_override_buckets (
    month date NOT NULL, fiscal_year integer NOT NULL, fiscal_quarter integer NOT NULL,
    bucket integer NOT NULL, n bigint NOT NULL, excess numeric NOT NULL
);
CREATE INDEX IF NOT EXISTS rollup_override_buckets_idx ON rollup_override_buckets (month);
CREATE TABLE IF NOT EXISTS rollup_asks (
    month date NOT NULL, owner_id text NOT NULL, kind text NOT NULL, slipped boolean NOT NULL,
    flags text[] NOT NULL, n bigint NOT NULL
);
CREATE INDEX IF NOT EXISTS rollup_asks_idx ON rollup_asks (month);
CREATE TABLE IF NOT EXISTS rollup_actions (
    month date NOT NULL, actor_id text NOT NULL, action text NOT NULL, n bigint NOT NULL
);
CREATE INDEX IF NOT EXISTS rollup_actions_idx ON rollup_actions (month);
CREATE TABLE IF NOT EXISTS rollup_categories (
    month date NOT NULL, executive_id text NOT NULL, category text NOT NULL, n bigint NOT NULL
);
CREATE INDEX IF NOT EXISTS rollup_categories_idx ON rollup_categories (month);

-- Single sign-on to the console (DESIGN 13; issue 24, sso). A session signed in through the
-- OpenID provider has no API key: it is bound to its person and holds the scopes the person's
-- roles gave at sign-in. It ends 12 h after sign-in however busy (expires_at), and at once
-- when its person is made inactive (the session lookup joins people). Key sessions keep
-- expires_at NULL: 8 h idle and the key's revocation end them, as before.
ALTER TABLE console_sessions ADD COLUMN IF NOT EXISTS person_id text REFERENCES people (id);
ALTER TABLE console_sessions ADD COLUMN IF NOT EXISTS scopes text[];
ALTER TABLE console_sessions ADD COLUMN IF NOT EXISTS expires_at timestamptz;
CREATE INDEX IF NOT EXISTS console_sessions_person_idx ON console_sessions (person_id)
    WHERE person_id IS NOT NULL;
-- ---------------------------------------------------------------------------------------
-- The console for the people in the loop (DESIGN 14, issue 25): a request's page lists its
-- audit events by subject (`request:<id>`, `override:<id>`), so that read is an index walk
-- rather than a scan of the whole chain.
CREATE INDEX IF NOT EXISTS audit_events_subject_idx ON audit_events (subject, id);
-- ---------------------------------------------------------------------------------------
-- Issue 25, mail (DESIGN section 14): notifications and one-click action links.
-- One notification per mailed event and recipient, written in the event's transaction
-- (only while DEALDESK_SMTP_URL is set) and claimed by the dispatchers like webhook
-- deliveries: FOR UPDATE SKIP LOCKED and a lease; `skipped` when the person has no email.
CREATE TABLE IF NOT EXISTS notifications (
    id              bigserial PRIMARY KEY,
    event_id        text NOT NULL,                 -- webhook_events.id: the body rendered
    event_type      text NOT NULL,
    person_id       text NOT NULL,
    email           text,
    subject         text NOT NULL,
    step_seq        integer,                       -- the step this person may act on by link
    status          text NOT NULL CHECK (status IN ('pending', 'sent', 'skipped', 'failed')),
    tries           integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL,
    lease_until     timestamptz,
    lease_token     uuid,
    last_error      text,
    sent_at         timestamptz,
    created_at      timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS notifications_due_idx
    ON notifications (next_attempt_at, id) WHERE status = 'pending';
CREATE INDEX IF NOT EXISTS notifications_person_idx ON notifications (person_id, id);

-- A one-click link is made when its mail is sent; only the sha256 of its token is kept.
-- Single use (used_at), dead after 72 h (created_at), or once its step is no longer pending.
CREATE TABLE IF NOT EXISTS action_links (
    token_hash      text PRIMARY KEY,
    notification_id bigint REFERENCES notifications (id),
    request_id      uuid NOT NULL,
    step_seq        integer NOT NULL,
    person_id       text NOT NULL,
    issued_for      timestamptz NOT NULL,          -- the mailed event's time
    created_at      timestamptz NOT NULL DEFAULT now(),
    used_at         timestamptz
);
CREATE INDEX IF NOT EXISTS action_links_request_idx ON action_links (request_id);
-- ---------------------------------------------------------------------------------------
-- Issue 24, API keys that expire (DESIGN 13): `expires_at` (NULL: never) and `last_used_at`
-- (kept to the minute by api/storage/key_usage.py, off the request path).
ALTER TABLE api_keys ADD COLUMN IF NOT EXISTS expires_at timestamptz;
ALTER TABLE api_keys ADD COLUMN IF NOT EXISTS last_used_at timestamptz;
-- Replaces the trigger above: an UPDATE of last_used_at alone must not move the registry
-- generation (it would invalidate every process's key snapshot once a minute per key).
CREATE OR REPLACE TRIGGER api_keys_generation
    AFTER INSERT
       OR UPDATE OF name, key_hash, scopes, created_at, revoked_at, person_id, expires_at
       OR DELETE OR TRUNCATE ON api_keys
    FOR EACH STATEMENT EXECUTE FUNCTION registry_generation_bump();
-- End of issue 24's access-token block.
-- Records kept for years (DESIGN 15): the schema version `dealdesk db migrate` brought this
-- database to (api/storage/migrate.py: SCHEMA_VERSION), one row per upgrade.
CREATE TABLE IF NOT EXISTS schema_version (
    version       integer PRIMARY KEY,
    schema_sha256 text NOT NULL,
    applied_at    timestamptz NOT NULL DEFAULT now()
);
-- SCIM 2.0 provisioning (DESIGN 13, api/http/scim.py). A provisioned person keeps the
-- identity provider's userName and externalId; `scim_attrs` holds the descriptive attributes
-- a person has no column for (name parts, displayName, every email), as sent. A SCIM DELETE
-- only deactivates and hides the SCIM resource (`scim_deleted`): history still names the
-- person. `manager_ref` is a manager named before they were provisioned, linked on arrival.
ALTER TABLE people ADD COLUMN IF NOT EXISTS user_name text;
ALTER TABLE people ADD COLUMN IF NOT EXISTS external_id text;
ALTER TABLE people ADD COLUMN IF NOT EXISTS scim_deleted boolean NOT NULL DEFAULT false;
ALTER TABLE people ADD COLUMN IF NOT EXISTS manager_ref text;
ALTER TABLE people ADD COLUMN IF NOT EXISTS scim_attrs jsonb NOT NULL DEFAULT '{}';
CREATE UNIQUE INDEX IF NOT EXISTS people_user_name_idx ON people (lower(user_name))
    WHERE user_name IS NOT NULL AND NOT scim_deleted;
CREATE INDEX IF NOT EXISTS people_external_id_idx ON people (external_id)
    WHERE external_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS people_email_idx ON people (lower(email)) WHERE email IS NOT NULL;
CREATE INDEX IF NOT EXISTS people_pending_manager_idx ON people (lower(manager_ref))
    WHERE manager_ref IS NOT NULL AND manager_id IS NULL;
-- Approval SLAs (DESIGN 14, issue 25): when a step became current, when it is due, whom it
-- was escalated to, how many SLA stages (reminder, overdue, escalations) have fired, and when
-- the next one falls due. The dispatcher's scan reads only the partial index below, so a pass
-- costs the same with 100,000 open steps as with none.
ALTER TABLE approval_steps ADD COLUMN IF NOT EXISTS assigned_at timestamptz;
ALTER TABLE approval_steps ADD COLUMN IF NOT EXISTS due_at timestamptz;
ALTER TABLE approval_steps ADD COLUMN IF NOT EXISTS escalations jsonb NOT NULL DEFAULT '[]';
ALTER TABLE approval_steps ADD COLUMN IF NOT EXISTS sla_stage integer NOT NULL DEFAULT 0;
ALTER TABLE approval_steps ADD COLUMN IF NOT EXISTS sla_next_at timestamptz;
CREATE INDEX IF NOT EXISTS approval_steps_sla_due_idx ON approval_steps (sla_next_at)
    WHERE state = 'pending' AND sla_next_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS approval_steps_overdue_idx ON approval_steps (due_at)
    WHERE state = 'pending' AND due_at IS NOT NULL;
-- Every time a step became current, and how long it waited (the approval-times report and
-- its history: a revision replaces approval_steps rows, never these). `waited_us` is set when
-- the step is acted on; `overdue` when its overdue notice fires or it is acted on after due.
CREATE TABLE IF NOT EXISTS step_timings (
    id          bigserial PRIMARY KEY,
    request_id  uuid NOT NULL REFERENCES approval_requests (id),
    seq         integer NOT NULL,
    tier        text NOT NULL,
    approver_id text NOT NULL,
    assigned_at timestamptz NOT NULL,
    assigned_on date NOT NULL,
    period_end  boolean NOT NULL,
    due_at      timestamptz,
    acted_at    timestamptz,
    acted_by    text,
    waited_us   bigint,
    overdue     boolean NOT NULL DEFAULT false,
    escalated   boolean NOT NULL DEFAULT false,
    superseded  boolean NOT NULL DEFAULT false   -- a revision restarted it before anyone acted
);
CREATE INDEX IF NOT EXISTS step_timings_open_idx ON step_timings (request_id, seq)
    WHERE acted_at IS NULL AND NOT superseded;
CREATE INDEX IF NOT EXISTS step_timings_report_idx ON step_timings (assigned_on)
    INCLUDE (tier, approver_id, waited_us, period_end, overdue, escalated);
-- All-time approval times without reading every wait: `wait_bucket` (32 per doubling of
-- the wait in seconds) and step_timing_totals, kept by triggers, count the acted-on waits per
-- group and bucket; a percentile then reads the totals to find its bucket and walks that bucket
-- alone, through the (group, bucket, wait) indexes, to the exact value at its rank.
ALTER TABLE step_timings ADD COLUMN IF NOT EXISTS wait_bucket smallint GENERATED ALWAYS AS (
    floor(32 * log(2::numeric, 1 + waited_us::numeric / 1000000))::smallint) STORED;
CREATE INDEX IF NOT EXISTS step_timings_tier_wait_idx
    ON step_timings (tier, wait_bucket, waited_us) INCLUDE (period_end)
    WHERE waited_us IS NOT NULL;
CREATE INDEX IF NOT EXISTS step_timings_approver_wait_idx
    ON step_timings (approver_id, wait_bucket, waited_us) INCLUDE (period_end)
    WHERE waited_us IS NOT NULL;
CREATE TABLE IF NOT EXISTS step_timing_totals (
    group_kind  text NOT NULL,                  -- tier | approver
    key         text NOT NULL,
    period_end  boolean NOT NULL,
    wait_bucket smallint NOT NULL,
    steps       bigint NOT NULL,
    overdue     bigint NOT NULL,
    escalated   bigint NOT NULL,
    PRIMARY KEY (group_kind, key, period_end, wait_bucket)
);
-- Only acted-on timings are totalled (they never change again); the open ones are few and
-- counted as they are, through step_timings_unacted_idx.
CREATE INDEX IF NOT EXISTS step_timings_unacted_idx ON step_timings (tier)
    INCLUDE (approver_id, overdue, escalated) WHERE waited_us IS NULL;
CREATE OR REPLACE FUNCTION step_timings_summarise() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    t step_timings;
    sign integer := 1;
BEGIN
    IF TG_OP = 'DELETE' THEN
        t := OLD;
        sign := -1;
    ELSE
        t := NEW;
    END IF;
    INSERT INTO step_timing_totals AS x VALUES
        ('tier', t.tier, t.period_end, t.wait_bucket, sign, sign * t.overdue::int,
         sign * t.escalated::int),
        ('approver', t.approver_id, t.period_end, t.wait_bucket, sign, sign * t.overdue::int,
         sign * t.escalated::int)
    ON CONFLICT (group_kind, key, period_end, wait_bucket) DO UPDATE SET
        steps = x.steps + EXCLUDED.steps, overdue = x.overdue + EXCLUDED.overdue,
        escalated = x.escalated + EXCLUDED.escalated;
    RETURN NULL;
END
$$;
DROP FUNCTION IF EXISTS step_timing_totals_add(step_timings, integer);
CREATE OR REPLACE TRIGGER step_timings_totals AFTER UPDATE OF waited_us ON step_timings
    FOR EACH ROW WHEN (OLD.waited_us IS NULL AND NEW.waited_us IS NOT NULL)
    EXECUTE FUNCTION step_timings_summarise();
CREATE OR REPLACE TRIGGER step_timings_totals_insert AFTER INSERT ON step_timings
    FOR EACH ROW WHEN (NEW.waited_us IS NOT NULL) EXECUTE FUNCTION step_timings_summarise();
CREATE OR REPLACE TRIGGER step_timings_totals_delete AFTER DELETE ON step_timings
    FOR EACH ROW WHEN (OLD.waited_us IS NOT NULL) EXECUTE FUNCTION step_timings_summarise();
CREATE INDEX IF NOT EXISTS step_timings_overdue_idx ON step_timings (request_id)
    WHERE overdue;
CREATE INDEX IF NOT EXISTS overrides_bypassed_idx ON overrides (request_id)
    WHERE 'bypassed_owner' = ANY (categories);
-- My approvals (DESIGN 14, issue 25): the pending steps a person was escalated to, found
-- through their `escalations` without reading every open step.
CREATE INDEX IF NOT EXISTS approval_steps_escalated_idx ON approval_steps
    USING gin (escalations jsonb_path_ops) WHERE state = 'pending' AND escalations <> '[]';
