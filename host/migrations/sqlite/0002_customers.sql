-- The customer database: customers, their phones, contacts and activities (the timeline),
-- admin-defined option lists, per-organisation code patterns, and the transactional outbox.

ALTER TABLE orgs ADD COLUMN customer_code_pattern TEXT NOT NULL DEFAULT 'KH-{yyyy}-{seq:5}';

-- Gap-free numbering: one row per organisation and code prefix, incremented in the same
-- transaction as the record that takes the number.
CREATE TABLE code_counters (
    org_id      INTEGER NOT NULL REFERENCES orgs(id),
    scope       TEXT    NOT NULL,
    last_value  INTEGER NOT NULL,
    PRIMARY KEY (org_id, scope)
);

CREATE TABLE option_items (
    id          INTEGER PRIMARY KEY,
    org_id      INTEGER NOT NULL REFERENCES orgs(id),
    list        TEXT    NOT NULL CHECK (list IN ('category', 'level', 'status', 'industry', 'region', 'source')),
    value       TEXT    NOT NULL,
    label_zh    TEXT    NOT NULL,
    label_en    TEXT    NOT NULL,
    position    INTEGER NOT NULL DEFAULT 0,
    active      INTEGER NOT NULL DEFAULT 1,
    UNIQUE (org_id, list, value)
);

CREATE TABLE customers (
    id                   INTEGER PRIMARY KEY,
    org_id               INTEGER NOT NULL REFERENCES orgs(id),
    code                 TEXT    NOT NULL,
    name                 TEXT    NOT NULL,
    kind                 TEXT    NOT NULL DEFAULT 'company' CHECK (kind IN ('company', 'person')),
    category             TEXT,
    level                TEXT,
    status               TEXT,
    industry             TEXT,
    region               TEXT,
    source               TEXT,
    address              TEXT,
    website              TEXT,
    bank_name            TEXT,
    bank_account         TEXT,
    tax_id               TEXT,
    credit_limit         INTEGER,
    tags                 TEXT    NOT NULL DEFAULT '',
    custom               TEXT    NOT NULL DEFAULT '{}',
    notes                TEXT    NOT NULL DEFAULT '',
    owner_id             INTEGER,
    department_id        INTEGER,
    parent_id            INTEGER,
    name_key             TEXT    NOT NULL,
    search_text          TEXT    NOT NULL,
    last_followed_up_at  INTEGER,
    next_follow_up_at    INTEGER,
    created_by           INTEGER,
    created_at           INTEGER NOT NULL,
    updated_at           INTEGER NOT NULL,
    version              INTEGER NOT NULL DEFAULT 1,
    UNIQUE (org_id, code),
    UNIQUE (org_id, id),
    FOREIGN KEY (org_id, owner_id) REFERENCES users (org_id, id),
    FOREIGN KEY (org_id, department_id) REFERENCES departments (org_id, id),
    FOREIGN KEY (org_id, parent_id) REFERENCES customers (org_id, id)
);
CREATE INDEX customers_owner ON customers (org_id, owner_id, id);
CREATE INDEX customers_department ON customers (org_id, department_id, id);
CREATE INDEX customers_name_key ON customers (org_id, name_key);
CREATE INDEX customers_tax_id ON customers (org_id, tax_id);
CREATE INDEX customers_parent ON customers (org_id, parent_id);
CREATE INDEX customers_next_follow_up ON customers (org_id, next_follow_up_at);

CREATE TABLE contacts (
    id             INTEGER PRIMARY KEY,
    org_id         INTEGER NOT NULL,
    customer_id    INTEGER NOT NULL,
    name           TEXT    NOT NULL,
    title          TEXT,
    department     TEXT,
    email          TEXT,
    birthday       TEXT,
    hobbies        TEXT,
    reports_to_id  INTEGER,
    decision_role  TEXT CHECK (decision_role IN ('decision_maker', 'influencer', 'evaluator', 'user', 'gatekeeper', 'other')),
    notes          TEXT    NOT NULL DEFAULT '',
    search_text    TEXT    NOT NULL,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL,
    UNIQUE (org_id, id),
    FOREIGN KEY (org_id, customer_id) REFERENCES customers (org_id, id) ON DELETE CASCADE,
    FOREIGN KEY (org_id, reports_to_id) REFERENCES contacts (org_id, id) ON DELETE SET NULL
);
CREATE INDEX contacts_customer ON contacts (org_id, customer_id);

-- Every phone of a customer or of one of its contacts, with its canonical form for
-- caller-ID lookups and its last digits for suffix search.
CREATE TABLE phones (
    id           INTEGER PRIMARY KEY,
    org_id       INTEGER NOT NULL,
    customer_id  INTEGER NOT NULL,
    contact_id   INTEGER,
    label        TEXT    NOT NULL DEFAULT '',
    raw          TEXT    NOT NULL,
    canonical    TEXT    NOT NULL,
    suffix       TEXT    NOT NULL,
    extension    TEXT,
    FOREIGN KEY (org_id, customer_id) REFERENCES customers (org_id, id) ON DELETE CASCADE,
    FOREIGN KEY (org_id, contact_id) REFERENCES contacts (org_id, id) ON DELETE CASCADE
);
CREATE INDEX phones_canonical ON phones (org_id, canonical);
CREATE INDEX phones_suffix ON phones (org_id, suffix);
CREATE INDEX phones_customer ON phones (org_id, customer_id);

CREATE TABLE activities (
    id                 INTEGER PRIMARY KEY,
    org_id             INTEGER NOT NULL,
    customer_id        INTEGER NOT NULL,
    contact_id         INTEGER,
    kind               TEXT    NOT NULL CHECK (kind IN ('call', 'visit', 'email', 'meeting', 'note')),
    subject            TEXT    NOT NULL DEFAULT '',
    content            TEXT    NOT NULL DEFAULT '',
    result             TEXT    NOT NULL DEFAULT '',
    occurred_at        INTEGER NOT NULL,
    next_follow_up_at  INTEGER,
    owner_id           INTEGER,
    created_at         INTEGER NOT NULL,
    UNIQUE (org_id, id),
    FOREIGN KEY (org_id, customer_id) REFERENCES customers (org_id, id) ON DELETE CASCADE,
    FOREIGN KEY (org_id, contact_id) REFERENCES contacts (org_id, id) ON DELETE SET NULL,
    FOREIGN KEY (org_id, owner_id) REFERENCES users (org_id, id)
);
CREATE INDEX activities_customer ON activities (org_id, customer_id, occurred_at);
CREATE INDEX activities_owner ON activities (org_id, owner_id, occurred_at);

-- Domain events, written in the same transaction as the change they describe; the event
-- dispatcher delivers them.
CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY,
    org_id          INTEGER NOT NULL REFERENCES orgs(id),
    topic           TEXT    NOT NULL,
    aggregate_type  TEXT    NOT NULL,
    aggregate_id    INTEGER NOT NULL,
    actor_user_id   INTEGER,
    payload         TEXT    NOT NULL,
    created_at      INTEGER NOT NULL
);
CREATE INDEX outbox_aggregate ON outbox (org_id, aggregate_type, aggregate_id, id);
