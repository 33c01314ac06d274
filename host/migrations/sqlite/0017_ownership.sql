-- Since when a customer's owner has held it (NULL: since the customer was created), for rules
-- that return customers to a public pool; and releases to nobody in the owner history, which
-- so far only knew transfers from one user to another.
ALTER TABLE customers ADD COLUMN owner_since INTEGER;

CREATE TABLE customer_transfers_new (
    id             INTEGER PRIMARY KEY,
    org_id         INTEGER NOT NULL,
    customer_id    INTEGER NOT NULL,
    from_user_id   INTEGER,
    to_user_id     INTEGER,
    reason         TEXT    NOT NULL,
    actor_user_id  INTEGER,
    at             INTEGER NOT NULL,
    FOREIGN KEY (org_id, customer_id) REFERENCES customers (org_id, id) ON DELETE CASCADE
);
INSERT INTO customer_transfers_new (id, org_id, customer_id, from_user_id, to_user_id, reason, actor_user_id, at)
    SELECT id, org_id, customer_id, from_user_id, to_user_id, reason, actor_user_id, at FROM customer_transfers;
DROP TABLE customer_transfers;
ALTER TABLE customer_transfers_new RENAME TO customer_transfers;
CREATE INDEX customer_transfers_customer ON customer_transfers (org_id, customer_id, id);
-- What a user took, and when: daily caps on claims from a pool.
CREATE INDEX customer_transfers_taken ON customer_transfers (org_id, to_user_id, at);
-- What rules that return customers to a pool look for, per level: the later of the last
-- follow-up and the moment the owner took the customer, and that moment alone (the selections
-- of `customers:assign` compare these very expressions), so that a nightly run over a million
-- customers reads only the customers that are due.
CREATE INDEX customers_idle ON customers (org_id, level, (MAX(COALESCE(last_followed_up_at, 0), COALESCE(owner_since, created_at))));
CREATE INDEX customers_held_since ON customers (org_id, level, (COALESCE(owner_since, created_at)));
