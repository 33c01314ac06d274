-- Files plugins keep (`files`, plugin API 0.1.4): attachments of knowledge-base articles,
-- uploads of forms. Per organisation and plugin; dropped with the plugin's data.
CREATE TABLE plugin_files (
    id            INTEGER PRIMARY KEY,
    org_id        INTEGER NOT NULL REFERENCES orgs(id),
    plugin_id     TEXT    NOT NULL,
    name          TEXT    NOT NULL,
    content_type  TEXT    NOT NULL,
    size          INTEGER NOT NULL,
    sha256        TEXT    NOT NULL,
    content       BLOB    NOT NULL,
    created_by    INTEGER,
    created_at    INTEGER NOT NULL
);
CREATE INDEX plugin_files_plugin ON plugin_files (org_id, plugin_id, id);
