-- Indexes for quick search at scale: trigram full-text tables over the search text of
-- customers and contacts (substring search of three or more characters), kept in step by
-- triggers, and reversed phone digits for "ends with" searches through a B-tree.

CREATE VIRTUAL TABLE customers_fts USING fts5(search_text, content='customers', content_rowid='id', tokenize='trigram');
INSERT INTO customers_fts (rowid, search_text) SELECT id, search_text FROM customers;
CREATE TRIGGER customers_fts_insert AFTER INSERT ON customers BEGIN
    INSERT INTO customers_fts (rowid, search_text) VALUES (new.id, new.search_text);
END;
CREATE TRIGGER customers_fts_delete AFTER DELETE ON customers BEGIN
    INSERT INTO customers_fts (customers_fts, rowid, search_text) VALUES ('delete', old.id, old.search_text);
END;
CREATE TRIGGER customers_fts_update AFTER UPDATE OF search_text ON customers BEGIN
    INSERT INTO customers_fts (customers_fts, rowid, search_text) VALUES ('delete', old.id, old.search_text);
    INSERT INTO customers_fts (rowid, search_text) VALUES (new.id, new.search_text);
END;

CREATE VIRTUAL TABLE contacts_fts USING fts5(search_text, content='contacts', content_rowid='id', tokenize='trigram');
INSERT INTO contacts_fts (rowid, search_text) SELECT id, search_text FROM contacts;
CREATE TRIGGER contacts_fts_insert AFTER INSERT ON contacts BEGIN
    INSERT INTO contacts_fts (rowid, search_text) VALUES (new.id, new.search_text);
END;
CREATE TRIGGER contacts_fts_delete AFTER DELETE ON contacts BEGIN
    INSERT INTO contacts_fts (contacts_fts, rowid, search_text) VALUES ('delete', old.id, old.search_text);
END;
CREATE TRIGGER contacts_fts_update AFTER UPDATE OF search_text ON contacts BEGIN
    INSERT INTO contacts_fts (contacts_fts, rowid, search_text) VALUES ('delete', old.id, old.search_text);
    INSERT INTO contacts_fts (rowid, search_text) VALUES (new.id, new.search_text);
END;

-- Filled by the host for rows written before this column existed.
ALTER TABLE phones ADD COLUMN digits_rev TEXT NOT NULL DEFAULT '';
CREATE INDEX phones_digits_rev ON phones (org_id, digits_rev);
