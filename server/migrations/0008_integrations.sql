-- Integrations: where an organisation's events go (a HaloPSA, signed webhooks), one outbox of
-- deliveries the engine sends with retries, and the PSA tickets they opened (server/src/outbox/,
-- server/src/notify/).

CREATE TABLE halo_settings (
    organisation_id BIGINT PRIMARY KEY REFERENCES organisations (id),
    url             TEXT NOT NULL,
    tenant          TEXT NOT NULL DEFAULT '',
    client_id       TEXT NOT NULL,
    sealed_secret   TEXT NOT NULL,   -- secrets.rs
    halo_client_id  BIGINT NOT NULL, -- the Halo client (customer) tickets are filed under
    ticket_type_id  BIGINT,
    priority_id     BIGINT,
    updated_at      BIGINT NOT NULL
);

CREATE TABLE webhooks (
    id              TEXT PRIMARY KEY, -- wh_…
    organisation_id BIGINT NOT NULL REFERENCES organisations (id),
    url             TEXT NOT NULL,
    events          TEXT NOT NULL,    -- JSON array of event types; empty: every type
    sealed_secret   TEXT NOT NULL,    -- the signing key (whsec_…)
    created_at      BIGINT NOT NULL
);
CREATE INDEX webhooks_organisation ON webhooks (organisation_id);

-- What happened, once, whoever it is sent to. The ID is the webhook-id on every attempt.
CREATE TABLE notifications (
    id              TEXT PRIMARY KEY, -- msg_…
    organisation_id BIGINT NOT NULL REFERENCES organisations (id),
    type            TEXT NOT NULL,    -- EventType
    subject         TEXT NOT NULL,    -- what it is about; one open ticket per subject ("mailbox:12:email-backup-failed")
    mailbox_id      BIGINT REFERENCES mailboxes (id),
    summary         TEXT NOT NULL,
    payload         TEXT NOT NULL,    -- the JSON body as sent
    dedupe_key      TEXT UNIQUE,      -- an event that must happen once (a 14-day warning for one expiry date)
    created_at      BIGINT NOT NULL
);
CREATE INDEX notifications_subject ON notifications (organisation_id, subject, created_at);

-- The outbox: one row per event and receiver.
CREATE TABLE deliveries (
    id              TEXT PRIMARY KEY, -- dl_…
    notification_id TEXT NOT NULL REFERENCES notifications (id),
    organisation_id BIGINT NOT NULL REFERENCES organisations (id),
    target          TEXT NOT NULL,    -- halo | webhook
    webhook_id      TEXT,             -- kept when the webhook is deleted (the history stays)
    target_label    TEXT NOT NULL,    -- HaloPSA, or the webhook's URL
    subject         TEXT NOT NULL,    -- the notification's: Halo deliveries of one subject go in order
    status          TEXT NOT NULL,    -- DeliveryStatus (cancelled: its receiver was removed)
    attempts        INTEGER NOT NULL DEFAULT 0, -- attempts recorded
    claims          INTEGER NOT NULL DEFAULT 0, -- times taken for sending (more than attempts: an instance stopped mid-attempt)
    next_attempt_at BIGINT,
    lease_until     BIGINT,           -- an instance is sending it until then
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
CREATE INDEX deliveries_due ON deliveries (status, next_attempt_at);
CREATE INDEX deliveries_organisation ON deliveries (organisation_id, created_at);
CREATE INDEX deliveries_subject ON deliveries (organisation_id, subject, status);
CREATE INDEX deliveries_busy ON deliveries (organisation_id, status, lease_until); -- those being sent, per organisation

CREATE TABLE delivery_attempts (
    delivery_id TEXT NOT NULL REFERENCES deliveries (id),
    number      INTEGER NOT NULL,
    at          BIGINT NOT NULL,
    http_status INTEGER,             -- none: no answer
    answer      TEXT NOT NULL,       -- the answer's first lines, or why there was none
    duration_ms BIGINT NOT NULL,
    PRIMARY KEY (delivery_id, number)
);

-- PSA tickets this service opened: one open per organisation and subject, in the Halo the
-- organisation uses now (a row of another Halo, or of a Halo removed, is closed here: detached).
CREATE TABLE tickets (
    organisation_id BIGINT NOT NULL REFERENCES organisations (id),
    halo_url        TEXT NOT NULL,    -- which Halo the number is of
    subject         TEXT NOT NULL,
    mailbox_id      BIGINT REFERENCES mailboxes (id),
    halo_ticket_id  BIGINT NOT NULL,
    title           TEXT NOT NULL,
    occurrences     INTEGER NOT NULL,
    last_notification_id TEXT NOT NULL, -- the last event written to it (a retried one adds no second note)
    opened_at       BIGINT NOT NULL,
    closed_at       BIGINT,
    PRIMARY KEY (organisation_id, halo_url, halo_ticket_id)
);
CREATE INDEX tickets_subject ON tickets (organisation_id, subject, closed_at);
CREATE INDEX tickets_mailbox ON tickets (mailbox_id, closed_at);
