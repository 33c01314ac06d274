-- Host core: organisations, departments, users, roles, sign-in and audit.
-- Timestamps are Unix milliseconds (UTC) in both backends; booleans are 0/1.

CREATE TABLE orgs (
    id          INTEGER PRIMARY KEY,
    slug        TEXT    NOT NULL UNIQUE,
    name        TEXT    NOT NULL,
    time_zone   TEXT    NOT NULL DEFAULT 'Asia/Shanghai',
    created_at  INTEGER NOT NULL
);

CREATE TABLE departments (
    id            INTEGER PRIMARY KEY,
    org_id        INTEGER NOT NULL REFERENCES orgs(id),
    parent_id     INTEGER,
    name          TEXT    NOT NULL,
    head_user_id  INTEGER,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    UNIQUE (org_id, id),
    FOREIGN KEY (org_id, parent_id) REFERENCES departments (org_id, id),
    FOREIGN KEY (org_id, head_user_id) REFERENCES users (org_id, id)
);
CREATE INDEX departments_parent ON departments (org_id, parent_id);

CREATE TABLE users (
    id                  INTEGER PRIMARY KEY,
    org_id              INTEGER NOT NULL REFERENCES orgs(id),
    username            TEXT    NOT NULL,
    display_name        TEXT    NOT NULL,
    email               TEXT,
    phone               TEXT,
    password_hash       TEXT    NOT NULL,
    department_id       INTEGER,
    manager_id          INTEGER,
    locale              TEXT    NOT NULL DEFAULT 'zh-CN',
    active              INTEGER NOT NULL DEFAULT 1,
    password_changed_at INTEGER NOT NULL,
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL,
    UNIQUE (org_id, username),
    UNIQUE (org_id, id),
    FOREIGN KEY (org_id, department_id) REFERENCES departments (org_id, id),
    FOREIGN KEY (org_id, manager_id) REFERENCES users (org_id, id)
);
CREATE INDEX users_department ON users (org_id, department_id);

CREATE TABLE roles (
    id           INTEGER PRIMARY KEY,
    org_id       INTEGER NOT NULL REFERENCES orgs(id),
    name         TEXT    NOT NULL,
    description  TEXT    NOT NULL DEFAULT '',
    builtin      INTEGER NOT NULL DEFAULT 0,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    UNIQUE (org_id, name),
    UNIQUE (org_id, id)
);

CREATE TABLE role_grants (
    org_id   INTEGER NOT NULL,
    role_id  INTEGER NOT NULL,
    module   TEXT    NOT NULL,
    action   TEXT    NOT NULL,
    scope    TEXT    NOT NULL CHECK (scope IN ('own', 'department', 'department_tree', 'all')),
    PRIMARY KEY (role_id, module, action),
    FOREIGN KEY (org_id, role_id) REFERENCES roles (org_id, id) ON DELETE CASCADE
);

CREATE TABLE user_roles (
    org_id   INTEGER NOT NULL,
    user_id  INTEGER NOT NULL,
    role_id  INTEGER NOT NULL,
    PRIMARY KEY (user_id, role_id),
    FOREIGN KEY (org_id, user_id) REFERENCES users (org_id, id) ON DELETE CASCADE,
    FOREIGN KEY (org_id, role_id) REFERENCES roles (org_id, id) ON DELETE CASCADE
);
CREATE INDEX user_roles_role ON user_roles (role_id);

CREATE TABLE sessions (
    id            INTEGER PRIMARY KEY,
    org_id        INTEGER NOT NULL,
    user_id       INTEGER NOT NULL,
    token_hash    TEXT    NOT NULL UNIQUE,
    csrf_token    TEXT    NOT NULL,
    created_at    INTEGER NOT NULL,
    last_seen_at  INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL,
    ip            TEXT,
    user_agent    TEXT,
    FOREIGN KEY (org_id, user_id) REFERENCES users (org_id, id) ON DELETE CASCADE
);
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE api_tokens (
    id            INTEGER PRIMARY KEY,
    org_id        INTEGER NOT NULL,
    user_id       INTEGER NOT NULL,
    name          TEXT    NOT NULL,
    token_hash    TEXT    NOT NULL UNIQUE,
    token_prefix  TEXT    NOT NULL,
    created_at    INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL,
    last_used_at  INTEGER,
    revoked_at    INTEGER,
    FOREIGN KEY (org_id, user_id) REFERENCES users (org_id, id) ON DELETE CASCADE
);
CREATE INDEX api_tokens_user ON api_tokens (user_id);

-- Sign-in throttling lives in the database so that it holds across several host nodes.
CREATE TABLE sign_in_throttle (
    key                TEXT    PRIMARY KEY,
    failures           INTEGER NOT NULL DEFAULT 0,
    in_flight          INTEGER NOT NULL DEFAULT 0,
    window_started_at  INTEGER NOT NULL,
    locked_until       INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE sign_in_rules (
    id            INTEGER PRIMARY KEY,
    org_id        INTEGER NOT NULL REFERENCES orgs(id),
    user_id       INTEGER,
    role_id       INTEGER,
    ip_allow      TEXT    NOT NULL DEFAULT '',
    weekdays      INTEGER NOT NULL DEFAULT 127,
    start_minute  INTEGER,
    end_minute    INTEGER,
    note          TEXT    NOT NULL DEFAULT '',
    created_at    INTEGER NOT NULL,
    CHECK ((user_id IS NULL) <> (role_id IS NULL)),
    FOREIGN KEY (org_id, user_id) REFERENCES users (org_id, id) ON DELETE CASCADE,
    FOREIGN KEY (org_id, role_id) REFERENCES roles (org_id, id) ON DELETE CASCADE
);

CREATE TABLE audit_log (
    id             INTEGER PRIMARY KEY,
    org_id         INTEGER NOT NULL REFERENCES orgs(id),
    at             INTEGER NOT NULL,
    actor_user_id  INTEGER,
    action         TEXT    NOT NULL,
    target_type    TEXT,
    target_id      INTEGER,
    ip             TEXT,
    detail         TEXT    NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_org ON audit_log (org_id, id);

CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
