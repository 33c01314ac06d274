-- Quick search moves to search documents kept by an indexer that follows committed writes.
--
-- A customer's document holds its search text (name, pinyin spellings, code) and its contacts'
-- (names, spellings, titles), so one index answers "the customer or one of its contacts
-- matches". Writes only queue the record in `search_pending` (triggers below, so that no write
-- path can forget); the indexer rebuilds the documents of queued records in batches. Until it
-- has, searches test queued records against their rows directly, so a search never misses a
-- committed write.

DROP INDEX customers_search_trgm;
DROP INDEX contacts_search_trgm;

CREATE TABLE customer_docs (
    customer_id  BIGINT PRIMARY KEY,
    org_id       BIGINT NOT NULL,
    -- Substrings of three or more characters, through the trigram index.
    doc          TEXT   NOT NULL,
    -- Every Chinese character and every pair of neighbouring ones, space-separated, for
    -- searches of one or two characters, which a trigram cannot hold.
    cjk          TEXT   NOT NULL
);
CREATE INDEX customer_docs_trgm ON customer_docs USING gin (doc gin_trgm_ops);
CREATE INDEX customer_docs_cjk ON customer_docs USING gin (string_to_array(cjk, ' '));

CREATE TABLE contact_docs (
    contact_id  BIGINT PRIMARY KEY,
    org_id      BIGINT NOT NULL,
    doc         TEXT   NOT NULL
);
CREATE INDEX contact_docs_trgm ON contact_docs USING gin (doc gin_trgm_ops);

-- Records whose documents are out of date: kind 1 a customer, 2 a contact.
--
-- The triggers queue with `DO UPDATE` rather than `DO NOTHING`: when the indexer of another
-- node holds the row (it has read the record and is about to take it off the queue), the
-- writer waits for it and queues the record again afterwards, instead of seeing it queued and
-- leaving the indexer to store the text it read before this write.
CREATE TABLE search_pending (
    kind       SMALLINT NOT NULL,
    record_id  BIGINT   NOT NULL,
    PRIMARY KEY (kind, record_id)
);

CREATE FUNCTION customers_search_queue() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        INSERT INTO search_pending (kind, record_id) SELECT 1, id FROM old_rows ON CONFLICT (kind, record_id) DO UPDATE SET record_id = EXCLUDED.record_id;
    ELSE
        INSERT INTO search_pending (kind, record_id) SELECT 1, id FROM new_rows ON CONFLICT (kind, record_id) DO UPDATE SET record_id = EXCLUDED.record_id;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER customers_search_insert AFTER INSERT ON customers
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION customers_search_queue();
CREATE TRIGGER customers_search_delete AFTER DELETE ON customers
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION customers_search_queue();
CREATE FUNCTION customers_search_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO search_pending (kind, record_id) VALUES (1, NEW.id) ON CONFLICT (kind, record_id) DO UPDATE SET record_id = EXCLUDED.record_id;
    RETURN NULL;
END $$;
CREATE TRIGGER customers_search_update AFTER UPDATE OF search_text ON customers
    FOR EACH ROW WHEN (OLD.search_text IS DISTINCT FROM NEW.search_text) EXECUTE FUNCTION customers_search_changed();

CREATE FUNCTION contacts_search_queue() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO search_pending (kind, record_id)
            SELECT 2, id FROM new_rows UNION SELECT 1, customer_id FROM new_rows ON CONFLICT (kind, record_id) DO UPDATE SET record_id = EXCLUDED.record_id;
    ELSE
        INSERT INTO search_pending (kind, record_id)
            SELECT 2, id FROM old_rows UNION SELECT 1, customer_id FROM old_rows ON CONFLICT (kind, record_id) DO UPDATE SET record_id = EXCLUDED.record_id;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER contacts_search_insert AFTER INSERT ON contacts
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION contacts_search_queue();
CREATE TRIGGER contacts_search_delete AFTER DELETE ON contacts
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION contacts_search_queue();
CREATE FUNCTION contacts_search_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO search_pending (kind, record_id)
        SELECT DISTINCT * FROM (VALUES (2::smallint, NEW.id), (1::smallint, NEW.customer_id), (1::smallint, OLD.customer_id)) v
        ON CONFLICT (kind, record_id) DO UPDATE SET record_id = EXCLUDED.record_id;
    RETURN NULL;
END $$;
CREATE TRIGGER contacts_search_update AFTER UPDATE OF search_text, customer_id ON contacts
    FOR EACH ROW WHEN (OLD.search_text IS DISTINCT FROM NEW.search_text OR OLD.customer_id IS DISTINCT FROM NEW.customer_id)
    EXECUTE FUNCTION contacts_search_changed();

-- Everything there is gets indexed by the indexer after this migration.
INSERT INTO search_pending (kind, record_id) SELECT 1, id FROM customers;
INSERT INTO search_pending (kind, record_id) SELECT 2, id FROM contacts;

-- Exact phone lookups use the reversed digits too (the canonical number's digits, reversed, are
-- the whole key), so the second index on every phone goes.
DROP INDEX phones_canonical;

-- A contact's phones and follow-ups, found by the contact: its phones are listed with it, and
-- deleting a contact clears both through their foreign keys, which without these indexes would
-- read every phone and every follow-up of the database.
CREATE INDEX phones_contact ON phones (org_id, contact_id) WHERE contact_id IS NOT NULL;
CREATE INDEX activities_contact ON activities (org_id, contact_id) WHERE contact_id IS NOT NULL;
