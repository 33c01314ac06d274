-- Quick search moves to search documents kept by an indexer that follows committed writes.
--
-- A customer's document holds its search text (name, pinyin spellings, code) and its contacts'
-- (names, spellings, titles), so one index answers "the customer or one of its contacts
-- matches", newest first, and stops at a page. Writes only queue the record in
-- `search_pending` (triggers below, so that no write path can forget); the indexer rebuilds the
-- documents of queued records in batches. Until it has, searches test queued records against
-- their rows directly, so a search never misses a committed write.

DROP TRIGGER customers_fts_insert;
DROP TRIGGER customers_fts_delete;
DROP TRIGGER customers_fts_update;
DROP TRIGGER contacts_fts_insert;
DROP TRIGGER contacts_fts_delete;
DROP TRIGGER contacts_fts_update;
DROP TABLE customers_fts;
DROP TABLE contacts_fts;

-- Substrings of three or more characters: trigram index, rowid = customer id.
CREATE VIRTUAL TABLE customer_docs USING fts5(doc, content='', contentless_delete=1, tokenize='trigram');
-- One and two Chinese characters, which a trigram cannot hold: every character and every pair
-- of neighbouring characters as a word, rowid = customer id.
CREATE VIRTUAL TABLE customer_cjk USING fts5(doc, content='', contentless_delete=1, tokenize='unicode61');
-- Contacts on their own (the contact list), rowid = contact id.
CREATE VIRTUAL TABLE contact_docs USING fts5(doc, content='', contentless_delete=1, tokenize='trigram');

-- Records whose documents are out of date: kind 1 a customer, 2 a contact.
CREATE TABLE search_pending (
    kind       INTEGER NOT NULL,
    record_id  INTEGER NOT NULL,
    PRIMARY KEY (kind, record_id)
) WITHOUT ROWID;

CREATE TRIGGER customers_search_insert AFTER INSERT ON customers BEGIN
    INSERT OR IGNORE INTO search_pending (kind, record_id) VALUES (1, new.id);
END;
CREATE TRIGGER customers_search_update AFTER UPDATE OF search_text ON customers WHEN old.search_text IS NOT new.search_text BEGIN
    INSERT OR IGNORE INTO search_pending (kind, record_id) VALUES (1, new.id);
END;
CREATE TRIGGER customers_search_delete AFTER DELETE ON customers BEGIN
    INSERT OR IGNORE INTO search_pending (kind, record_id) VALUES (1, old.id);
END;
CREATE TRIGGER contacts_search_insert AFTER INSERT ON contacts BEGIN
    INSERT OR IGNORE INTO search_pending (kind, record_id) VALUES (2, new.id), (1, new.customer_id);
END;
CREATE TRIGGER contacts_search_update AFTER UPDATE OF search_text, customer_id ON contacts
    WHEN old.search_text IS NOT new.search_text OR old.customer_id IS NOT new.customer_id BEGIN
    INSERT OR IGNORE INTO search_pending (kind, record_id) VALUES (2, new.id), (1, new.customer_id), (1, old.customer_id);
END;
CREATE TRIGGER contacts_search_delete AFTER DELETE ON contacts BEGIN
    INSERT OR IGNORE INTO search_pending (kind, record_id) VALUES (2, old.id), (1, old.customer_id);
END;

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
