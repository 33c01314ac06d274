-- Event delivery: the dispatcher fans every outbox event out to its subscribers (outbound
-- webhooks an organisation configures) as deliveries, and delivers each at least once, in
-- order per record, with retries on a schedule, a dead-letter state and manual redelivery.

-- Events recorded before there was a dispatcher had no subscriber to reach.
ALTER TABLE outbox ADD COLUMN dispatched INTEGER NOT NULL DEFAULT 0;
UPDATE outbox SET dispatched = 1;
CREATE INDEX outbox_to_dispatch ON outbox (id) WHERE dispatched = 0;

CREATE TABLE webhook_endpoints (
    id               INTEGER PRIMARY KEY,
    org_id           INTEGER NOT NULL REFERENCES orgs(id),
    url              TEXT    NOT NULL,
    description      TEXT    NOT NULL DEFAULT '',
    -- Comma-separated topics: `*`, `customer.*`, `contact.created`.
    topics           TEXT    NOT NULL DEFAULT '*',
    -- `whsec_` and the base64 of the signing key (Standard Webhooks).
    secret           TEXT    NOT NULL,
    enabled          INTEGER NOT NULL DEFAULT 1,
    disabled_reason  TEXT,
    created_by       INTEGER,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    UNIQUE (org_id, id)
);
CREATE INDEX webhook_endpoints_org ON webhook_endpoints (org_id, id);

-- One event on its way to one subscriber.
CREATE TABLE deliveries (
    id               INTEGER PRIMARY KEY,
    org_id           INTEGER NOT NULL,
    event_id         INTEGER NOT NULL,
    endpoint_id      INTEGER NOT NULL,
    -- Events with the same key (one customer, one contact) reach a subscriber in order.
    ordering_key     TEXT    NOT NULL,
    status           TEXT    NOT NULL CHECK (status IN ('pending', 'delivered', 'dead')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  INTEGER NOT NULL,
    -- A node sending it holds it until then; after a crash another node takes it over.
    leased_until     INTEGER NOT NULL DEFAULT 0,
    last_status      INTEGER,
    last_error       TEXT,
    created_at       INTEGER NOT NULL,
    finished_at      INTEGER,
    FOREIGN KEY (org_id, endpoint_id) REFERENCES webhook_endpoints (org_id, id) ON DELETE CASCADE
);
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX deliveries_in_order ON deliveries (endpoint_id, ordering_key, event_id) WHERE status = 'pending';
CREATE INDEX deliveries_endpoint ON deliveries (org_id, endpoint_id, id);

-- Every attempt, for the delivery log an administrator reads.
CREATE TABLE delivery_attempts (
    id               INTEGER PRIMARY KEY,
    delivery_id      INTEGER NOT NULL REFERENCES deliveries(id) ON DELETE CASCADE,
    attempt          INTEGER NOT NULL,
    at               INTEGER NOT NULL,
    response_status  INTEGER,
    error            TEXT,
    duration_ms      INTEGER NOT NULL
);
CREATE INDEX delivery_attempts_delivery ON delivery_attempts (delivery_id, attempt);
