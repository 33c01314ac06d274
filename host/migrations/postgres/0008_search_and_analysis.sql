-- The phone-suffix index goes: "ends with" searches use the reversed digits (0006).
-- (SQLite's contacts index also takes the search text here; PostgreSQL keeps its narrower
-- index, as a B-tree entry there is limited in size and search texts are not.)
DROP INDEX phones_suffix;

-- Tax ids are matched without regard to case (duplicate checks, import matching).
DROP INDEX customers_tax_id;
CREATE INDEX customers_tax_id ON customers (org_id, upper(tax_id));

-- Composition analysis counts customers by one of these columns within the reader's scope;
-- each index answers it without reading the customer rows.
CREATE INDEX customers_by_level ON customers (org_id, level, department_id, owner_id) INCLUDE (id);
CREATE INDEX customers_by_category ON customers (org_id, category, department_id, owner_id) INCLUDE (id);
CREATE INDEX customers_by_source ON customers (org_id, source, department_id, owner_id) INCLUDE (id);
CREATE INDEX customers_by_region ON customers (org_id, region, department_id, owner_id) INCLUDE (id);
