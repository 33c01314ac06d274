-- Plugins: the packages installed on this host, and what each organisation enabled.
-- The database is the truth of which version runs: every node follows these rows.

CREATE TABLE plugin_packages (
    plugin_id     TEXT    NOT NULL,
    version       TEXT    NOT NULL,
    -- Hex SHA-256 of the package: compiled code is cached under it.
    sha256        TEXT    NOT NULL,
    api           TEXT    NOT NULL,
    -- The manifest as JSON.
    manifest      TEXT    NOT NULL,
    package       BLOB   NOT NULL,
    size          BIGINT  NOT NULL,
    -- `directory` (dropped into the plugin directory), `bundled`, `upload` or `marketplace`.
    source        TEXT    NOT NULL,
    -- An upload through the admin API is visible to its organisation only; NULL is every org.
    org_id        BIGINT  REFERENCES orgs(id),
    installed_by  BIGINT,
    installed_at  BIGINT  NOT NULL,
    PRIMARY KEY (plugin_id, version)
);

CREATE TABLE org_plugins (
    org_id            BIGINT  NOT NULL REFERENCES orgs(id),
    plugin_id         TEXT    NOT NULL,
    version           TEXT    NOT NULL,
    -- The version before the last upgrade, for a roll back.
    previous_version  TEXT,
    -- `enabled`, `disabled`, or `tripped` (disabled by the circuit breaker).
    state             TEXT    NOT NULL,
    state_reason      TEXT,
    -- JSON array of the capabilities the admin granted.
    grants            TEXT    NOT NULL,
    -- JSON object of settings.
    settings          TEXT    NOT NULL DEFAULT '{}',
    -- Newer versions installed on the host are taken up automatically (cleared by a roll back).
    follow_latest     BIGINT  NOT NULL DEFAULT 1,
    -- The user a plugin acts as when no signed-in user is behind a call.
    service_user_id   BIGINT  NOT NULL,
    -- Events the plugin has handled: everything in the outbox up to this id.
    event_cursor      BIGINT  NOT NULL DEFAULT 0,
    event_attempts    BIGINT  NOT NULL DEFAULT 0,
    event_retry_at    BIGINT  NOT NULL DEFAULT 0,
    event_leased_until BIGINT NOT NULL DEFAULT 0,
    enabled_at        BIGINT  NOT NULL,
    updated_at        BIGINT  NOT NULL,
    PRIMARY KEY (org_id, plugin_id)
);

-- Events a plugin failed to handle after every retry.
CREATE TABLE plugin_event_failures (
    id          INTEGER PRIMARY KEY,
    org_id      BIGINT  NOT NULL,
    plugin_id   TEXT    NOT NULL,
    event_id    BIGINT  NOT NULL,
    version     TEXT    NOT NULL,
    error       TEXT    NOT NULL,
    attempts    BIGINT  NOT NULL,
    failed_at   BIGINT  NOT NULL
);
CREATE INDEX plugin_event_failures_plugin ON plugin_event_failures (org_id, plugin_id, id);

-- The next run of each plugin job in each organisation, claimed under a lease.
CREATE TABLE plugin_jobs (
    org_id        BIGINT  NOT NULL,
    plugin_id     TEXT    NOT NULL,
    job           TEXT    NOT NULL,
    schedule      TEXT    NOT NULL,
    next_run_at   BIGINT  NOT NULL,
    leased_until  BIGINT  NOT NULL DEFAULT 0,
    last_run_at   BIGINT,
    last_outcome  TEXT,
    PRIMARY KEY (org_id, plugin_id, job)
);
CREATE INDEX plugin_jobs_due ON plugin_jobs (next_run_at);

-- Bumped by every change to plugin_packages or org_plugins, so other nodes notice.
CREATE TABLE plugin_epoch (
    id     BIGINT PRIMARY KEY,
    epoch  BIGINT NOT NULL
);
INSERT INTO plugin_epoch (id, epoch) VALUES (1, 0);
