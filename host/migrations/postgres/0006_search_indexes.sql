-- Indexes for quick search at scale: trigram GIN indexes over the search text of customers
-- and contacts (substring search of three or more characters), and reversed phone digits for
-- "ends with" searches through a B-tree. pg_trgm is a trusted extension: the database owner
-- may create it.

CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX customers_search_trgm ON customers USING gin (search_text gin_trgm_ops);
CREATE INDEX contacts_search_trgm ON contacts USING gin (search_text gin_trgm_ops);

ALTER TABLE phones ADD COLUMN digits_rev TEXT NOT NULL DEFAULT '';
UPDATE phones SET digits_rev = reverse(regexp_replace(canonical, '[^0-9]', '', 'g'));
CREATE INDEX phones_digits_rev ON phones (org_id, digits_rev text_pattern_ops);
