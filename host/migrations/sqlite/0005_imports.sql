-- Customer imports: the uploaded file, the chosen mapping, and the outcome.

CREATE TABLE customer_imports (
    id            INTEGER PRIMARY KEY,
    org_id        INTEGER NOT NULL,
    user_id       INTEGER NOT NULL,
    file_name     TEXT    NOT NULL,
    content_hash  TEXT    NOT NULL,
    content       BLOB    NOT NULL,
    status        TEXT    NOT NULL CHECK (status IN ('uploaded', 'running', 'done', 'failed')),
    total_rows    INTEGER NOT NULL DEFAULT 0,
    result        TEXT    NOT NULL DEFAULT '{}',
    created_at    INTEGER NOT NULL,
    finished_at   INTEGER,
    FOREIGN KEY (org_id, user_id) REFERENCES users (org_id, id)
);
CREATE INDEX customer_imports_org ON customer_imports (org_id, id);
