-- The marketplace's trust on this host: license tokens per organisation and plugin, the
-- organisation's account at the marketplace (taken from its first license), and the last
-- revocation list accepted (a lower-numbered one is never taken again).
CREATE TABLE org_marketplace_accounts (
    org_id      BIGINT  NOT NULL PRIMARY KEY REFERENCES orgs(id),
    account_id  TEXT    NOT NULL,
    created_at  BIGINT  NOT NULL
);

CREATE TABLE org_plugin_licenses (
    org_id      BIGINT  NOT NULL REFERENCES orgs(id),
    plugin_id   TEXT    NOT NULL,
    token       TEXT    NOT NULL,
    -- When the paid period ends and when its grace period ends (ms); NULL for good.
    expires_at  BIGINT,
    grace_ends  BIGINT,
    stored_by   BIGINT,
    stored_at   BIGINT  NOT NULL,
    PRIMARY KEY (org_id, plugin_id)
);

CREATE TABLE marketplace_revocations (
    id          BIGINT  NOT NULL PRIMARY KEY,
    seq         BIGINT  NOT NULL,
    -- The signed list as fetched, verified again at every start.
    list        TEXT    NOT NULL,
    fetched_at  BIGINT  NOT NULL
);
