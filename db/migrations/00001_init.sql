-- +goose Up
-- Saathi's schema. Personal data (phones, names, references, duress words,
-- free-text replies, notes) is stored only as AES-GCM ciphertext (*_enc
-- columns, a key ID inside each value); phone lookups go through an HMAC
-- blind index (*_hash columns). Nothing here is readable in a plain dump.

CREATE TABLE staff (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name_enc       bytea NOT NULL,
    role           text NOT NULL CHECK (role IN ('admin', 'supervisor', 'caseworker')),
    supervisor_id  uuid REFERENCES staff (id),
    language       text NOT NULL DEFAULT 'en',
    phone_enc      bytea,
    phone_hash     bytea UNIQUE,
    token_hash     bytea NOT NULL UNIQUE,
    created_at     timestamptz NOT NULL DEFAULT now(),
    deactivated_at timestamptz,
    CHECK ((phone_enc IS NULL) = (phone_hash IS NULL))
);

CREATE TABLE survivors (
    id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    -- NULL once erased: erasure keeps the row (anonymous counts) and drops
    -- every personal field.
    reference_enc     bytea,
    phone_enc         bytea,
    phone_hash        bytea,
    duress_enc        bytea,
    language          text NOT NULL,
    channels          text[] NOT NULL,
    timezone          text NOT NULL,
    caseworker_id     uuid REFERENCES staff (id),
    -- no reply within this many minutes of a check-in counts as missed
    response_window_minutes int NOT NULL DEFAULT 1440 CHECK (response_window_minutes > 0),
    status            text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'erased')),
    enrolled_at       timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    erased_at         timestamptz,
    CHECK (status = 'erased' OR (reference_enc IS NOT NULL AND phone_enc IS NOT NULL AND phone_hash IS NOT NULL))
);
-- One active survivor per phone: inbound replies are matched by number.
CREATE UNIQUE INDEX survivors_phone_hash_active ON survivors (phone_hash) WHERE status = 'active';
CREATE INDEX survivors_caseworker ON survivors (caseworker_id) WHERE status = 'active';

-- Consent is an append-only history; the current consent for a channel is
-- its latest record.
CREATE TABLE consent_records (
    id           bigserial PRIMARY KEY,
    survivor_id  uuid NOT NULL REFERENCES survivors (id),
    action       text NOT NULL CHECK (action IN ('give', 'withdraw')),
    channels     text[] NOT NULL CHECK (cardinality(channels) > 0),
    method       text NOT NULL,
    -- who recorded it: staff, survivor (a STOP/START reply), carrier (21610), system
    source       text NOT NULL CHECK (source IN ('staff', 'survivor', 'carrier', 'system')),
    recorded_by  uuid REFERENCES staff (id),
    recorded_at  timestamptz NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX consent_records_survivor ON consent_records (survivor_id, id);

CREATE TABLE contact_windows (
    survivor_id   uuid NOT NULL REFERENCES survivors (id) ON DELETE CASCADE,
    position      int NOT NULL,
    days          text[] NOT NULL,
    start_minute  int NOT NULL CHECK (start_minute BETWEEN 0 AND 1439),
    end_minute    int NOT NULL CHECK (end_minute BETWEEN 1 AND 1440),
    PRIMARY KEY (survivor_id, position),
    CHECK (start_minute < end_minute)
);

-- A cadence is anchored at starts_at; its phases expand into check-in rows.
CREATE TABLE cadences (
    survivor_id  uuid PRIMARY KEY REFERENCES survivors (id),
    phases       jsonb NOT NULL,
    starts_at    timestamptz NOT NULL,
    version      int NOT NULL DEFAULT 1,
    updated_by   uuid REFERENCES staff (id),
    updated_at   timestamptz NOT NULL DEFAULT now()
);

-- One row per scheduled occurrence. state:
--   scheduled  due in the future, not yet handed to River
--   queued     a send job exists
--   sending    a provider attempt is in flight
--   sent       the provider accepted it
--   answered   the survivor replied
--   missed     no answer within the response window
--   skipped    not sent (no consent, erased, opted out); reason says why
--   failed     the provider refused it for good; reason says why
--   cancelled  replaced by a cadence edit
CREATE TABLE checkins (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    survivor_id   uuid NOT NULL REFERENCES survivors (id),
    kind          text NOT NULL CHECK (kind IN ('cadence', 'adhoc', 'followup')),
    channel       text CHECK (channel IN ('sms', 'voice')),
    cadence_version int,
    seq           int,
    due_at        timestamptz NOT NULL,
    state         text NOT NULL DEFAULT 'scheduled'
                  CHECK (state IN ('scheduled', 'queued', 'sending', 'sent', 'answered', 'missed', 'skipped', 'failed', 'cancelled')),
    reason        text,
    requested_by  uuid REFERENCES staff (id),
    parent_id     uuid REFERENCES checkins (id),
    sent_at       timestamptz,
    answered_at   timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (survivor_id, cadence_version, seq)
);
CREATE INDEX checkins_due ON checkins (due_at) WHERE state = 'scheduled';
CREATE INDEX checkins_survivor ON checkins (survivor_id, due_at);
CREATE INDEX checkins_awaiting ON checkins (sent_at) WHERE state = 'sent';

-- Every SMS and call, in and out. provider_sid is Twilio's MessageSid or
-- CallSid; a unique constraint deduplicates webhooks delivered twice.
CREATE TABLE messages (
    id             bigserial PRIMARY KEY,
    direction      text NOT NULL CHECK (direction IN ('out', 'in')),
    channel        text NOT NULL CHECK (channel IN ('sms', 'voice')),
    survivor_id    uuid REFERENCES survivors (id),
    staff_id       uuid REFERENCES staff (id),
    checkin_id     uuid REFERENCES checkins (id),
    alert_id       uuid,
    purpose        text NOT NULL,
    peer_hash      bytea,
    peer_enc       bytea,
    body_enc       bytea,
    template       text,
    language       text,
    provider       text NOT NULL,
    provider_sid   text UNIQUE,
    status         text NOT NULL,
    error_code     int,
    error_message  text,
    segments       int,
    encoding       text,
    answered_by    text,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX messages_checkin ON messages (checkin_id) WHERE checkin_id IS NOT NULL;
CREATE INDEX messages_survivor ON messages (survivor_id, id) WHERE survivor_id IS NOT NULL;
CREATE INDEX messages_unmatched ON messages (id) WHERE direction = 'in' AND survivor_id IS NULL AND staff_id IS NULL;

-- What a survivor's reply meant.
CREATE TABLE responses (
    id            bigserial PRIMARY KEY,
    message_id    bigint NOT NULL UNIQUE REFERENCES messages (id),
    survivor_id   uuid NOT NULL REFERENCES survivors (id),
    checkin_id    uuid REFERENCES checkins (id),
    intent        text NOT NULL,
    evidence_enc  bytea,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX responses_survivor ON responses (survivor_id, id);

CREATE TABLE risk_flags (
    id            bigserial PRIMARY KEY,
    survivor_id   uuid NOT NULL REFERENCES survivors (id),
    kind          text NOT NULL,
    severity      text NOT NULL CHECK (severity IN ('urgent', 'high', 'medium', 'low')),
    response_id   bigint REFERENCES responses (id),
    checkin_id    uuid REFERENCES checkins (id),
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX risk_flags_survivor ON risk_flags (survivor_id, id);
-- One flag per response and kind, and one per check-in and kind, so a
-- replayed webhook or a retried job never raises a second flag.
CREATE UNIQUE INDEX risk_flags_response_kind ON risk_flags (response_id, kind) WHERE response_id IS NOT NULL;
CREATE UNIQUE INDEX risk_flags_checkin_kind ON risk_flags (checkin_id, kind) WHERE checkin_id IS NOT NULL;

CREATE TABLE alerts (
    id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    flag_id           bigint NOT NULL UNIQUE REFERENCES risk_flags (id),
    survivor_id       uuid NOT NULL REFERENCES survivors (id),
    caseworker_id     uuid REFERENCES staff (id),
    severity          text NOT NULL CHECK (severity IN ('urgent', 'high', 'medium', 'low')),
    status            text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'acknowledged', 'resolved')),
    ack_code          text NOT NULL,
    escalation_level  int NOT NULL DEFAULT 0,
    sla_due_at        timestamptz,
    acknowledged_by   uuid REFERENCES staff (id),
    acknowledged_at   timestamptz,
    resolved_by       uuid REFERENCES staff (id),
    resolved_at       timestamptz,
    resolution_enc    bytea,
    created_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX alerts_caseworker ON alerts (caseworker_id, status);
CREATE INDEX alerts_sla ON alerts (sla_due_at) WHERE status = 'open';
CREATE UNIQUE INDEX alerts_open_code ON alerts (ack_code) WHERE status = 'open';

CREATE TABLE alert_events (
    id          bigserial PRIMARY KEY,
    alert_id    uuid NOT NULL REFERENCES alerts (id),
    kind        text NOT NULL,
    staff_id    uuid REFERENCES staff (id),
    detail      jsonb NOT NULL DEFAULT '{}',
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX alert_events_alert ON alert_events (alert_id, id);

-- Who saw or changed what. detail never holds personal data.
CREATE TABLE audit_log (
    id           bigserial PRIMARY KEY,
    staff_id     uuid REFERENCES staff (id),
    action       text NOT NULL,
    survivor_id  uuid REFERENCES survivors (id),
    detail       jsonb NOT NULL DEFAULT '{}',
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audit_log_survivor ON audit_log (survivor_id, id);

-- The dev provider's outbox: what would have been sent, with no network.
CREATE TABLE dev_outbox (
    id           bigserial PRIMARY KEY,
    sid          text NOT NULL UNIQUE,
    channel      text NOT NULL,
    to_enc       bytea NOT NULL,
    body_enc     bytea,
    created_at   timestamptz NOT NULL DEFAULT now()
);

-- +goose Down
DROP TABLE dev_outbox, audit_log, alert_events, alerts, risk_flags, responses,
    messages, checkins, cadences, contact_windows, consent_records, survivors, staff;
