-- Plugins' own records ("entities") live in tables of their own, one per entity a plugin
-- declares (`plg_<plugin>__<entity>`), made and migrated at run time by runtime::entities.
-- This table remembers, per entity, what was declared and what was made for it, so that a
-- migration adds the columns and indexes a new version declares and never drops data: a field
-- left out of the manifest keeps its column, listed here with its type.

CREATE TABLE plugin_entities (
    plugin_id   TEXT    NOT NULL,
    entity      TEXT    NOT NULL,
    table_name  TEXT    NOT NULL UNIQUE,
    -- JSON: the entity as last declared (fields, indexes, searchable fields, timeline).
    declared    TEXT    NOT NULL,
    -- JSON object: every column ever made for a field, with the field's type.
    columns     TEXT    NOT NULL,
    -- JSON array: the indexes made for the entity, so that those no longer declared go.
    indexes     TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (plugin_id, entity)
);
