-- Saved views of the customer list, and custom fields defined per organisation.

CREATE TABLE saved_views (
    id          INTEGER PRIMARY KEY,
    org_id      INTEGER NOT NULL,
    user_id     INTEGER NOT NULL,
    name        TEXT    NOT NULL,
    query       TEXT    NOT NULL,
    shared      INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL,
    UNIQUE (org_id, user_id, name),
    FOREIGN KEY (org_id, user_id) REFERENCES users (org_id, id) ON DELETE CASCADE
);

CREATE TABLE custom_fields (
    id          INTEGER PRIMARY KEY,
    org_id      INTEGER NOT NULL REFERENCES orgs(id),
    key         TEXT    NOT NULL,
    label_zh    TEXT    NOT NULL,
    label_en    TEXT    NOT NULL,
    kind        TEXT    NOT NULL CHECK (kind IN ('text', 'number', 'date', 'option', 'multi_option', 'user')),
    required    INTEGER NOT NULL DEFAULT 0,
    is_unique   INTEGER NOT NULL DEFAULT 0,
    options     TEXT    NOT NULL DEFAULT '[]',
    position    INTEGER NOT NULL DEFAULT 0,
    active      INTEGER NOT NULL DEFAULT 1,
    created_at  INTEGER NOT NULL,
    UNIQUE (org_id, key)
);

-- Values of unique custom fields, so that the database itself refuses a second customer with
-- the same value.
CREATE TABLE custom_unique_values (
    org_id       INTEGER NOT NULL,
    field_key    TEXT    NOT NULL,
    value        TEXT    NOT NULL,
    customer_id  INTEGER NOT NULL,
    PRIMARY KEY (org_id, field_key, value),
    FOREIGN KEY (org_id, customer_id) REFERENCES customers (org_id, id) ON DELETE CASCADE
);
CREATE INDEX custom_unique_values_customer ON custom_unique_values (org_id, customer_id);
