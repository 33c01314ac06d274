-- Customer operations: sharing, transfers, saved views and custom fields.

-- A customer shared with a colleague or a whole department, to read or to edit.
CREATE TABLE customer_shares (
    id             INTEGER PRIMARY KEY,
    org_id         INTEGER NOT NULL,
    customer_id    INTEGER NOT NULL,
    user_id        INTEGER,
    department_id  INTEGER,
    level          TEXT    NOT NULL CHECK (level IN ('read', 'edit')),
    created_by     INTEGER,
    created_at     INTEGER NOT NULL,
    CHECK ((user_id IS NULL) <> (department_id IS NULL)),
    FOREIGN KEY (org_id, customer_id) REFERENCES customers (org_id, id) ON DELETE CASCADE,
    FOREIGN KEY (org_id, user_id) REFERENCES users (org_id, id) ON DELETE CASCADE,
    FOREIGN KEY (org_id, department_id) REFERENCES departments (org_id, id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX customer_shares_user ON customer_shares (customer_id, user_id) WHERE user_id IS NOT NULL;
CREATE UNIQUE INDEX customer_shares_department ON customer_shares (customer_id, department_id) WHERE department_id IS NOT NULL;
CREATE INDEX customer_shares_by_user ON customer_shares (org_id, user_id);
CREATE INDEX customer_shares_by_department ON customer_shares (org_id, department_id);

-- Every change of owner, with its reason.
CREATE TABLE customer_transfers (
    id             INTEGER PRIMARY KEY,
    org_id         INTEGER NOT NULL,
    customer_id    INTEGER NOT NULL,
    from_user_id   INTEGER,
    to_user_id     INTEGER NOT NULL,
    reason         TEXT    NOT NULL,
    actor_user_id  INTEGER,
    at             INTEGER NOT NULL,
    FOREIGN KEY (org_id, customer_id) REFERENCES customers (org_id, id) ON DELETE CASCADE
);
CREATE INDEX customer_transfers_customer ON customer_transfers (org_id, customer_id, id);
