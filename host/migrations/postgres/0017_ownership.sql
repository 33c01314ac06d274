-- Since when a customer's owner has held it (NULL: since the customer was created), for rules
-- that return customers to a public pool; and releases to nobody in the owner history, which
-- so far only knew transfers from one user to another.
ALTER TABLE customers ADD COLUMN owner_since BIGINT;
ALTER TABLE customer_transfers ALTER COLUMN to_user_id DROP NOT NULL;
-- What a user took, and when: daily caps on claims from a pool.
CREATE INDEX customer_transfers_taken ON customer_transfers (org_id, to_user_id, at);
-- What rules that return customers to a pool look for, per level: the later of the last
-- follow-up and the moment the owner took the customer, and that moment alone (the selections
-- of `customers:assign` compare these very expressions), so that a nightly run over a million
-- customers reads only the customers that are due.
CREATE INDEX customers_idle ON customers (org_id, level, (GREATEST(COALESCE(last_followed_up_at, 0), COALESCE(owner_since, created_at))));
CREATE INDEX customers_held_since ON customers (org_id, level, (COALESCE(owner_since, created_at)));
