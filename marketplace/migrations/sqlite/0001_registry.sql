-- The registry: accounts, their bearer tokens, publisher keys, plugin ids and their versions
-- (with the package bytes), listings, purchases and licenses, and revocations.
-- Timestamps are Unix milliseconds and booleans 0/1, as in the PostgreSQL schema.

CREATE TABLE publishers (
    id             TEXT    PRIMARY KEY,
    name           TEXT    NOT NULL,
    -- Lower-cased; one account per address.
    email          TEXT    NOT NULL UNIQUE,
    password_hash  TEXT    NOT NULL,
    -- The key packages must be signed with now (`tessera-public-key-v1:…`) and its id.
    public_key     TEXT,
    key_id         TEXT,
    created_at     BIGINT  NOT NULL
);

-- Every key a publisher registered, so that a key belongs to one publisher for good.
CREATE TABLE publisher_keys (
    key_id         TEXT    PRIMARY KEY,
    publisher_id   TEXT    NOT NULL REFERENCES publishers(id),
    public_key     TEXT    NOT NULL,
    registered_at  BIGINT  NOT NULL
);

CREATE TABLE orgs (
    id             TEXT    PRIMARY KEY,
    name           TEXT    NOT NULL,
    email          TEXT    NOT NULL UNIQUE,
    password_hash  TEXT    NOT NULL,
    created_at     BIGINT  NOT NULL
);

-- Bearer tokens, by the SHA-256 of the token: `publisher`, `org` or `operator` (no account).
CREATE TABLE tokens (
    token_hash     TEXT    PRIMARY KEY,
    kind           TEXT    NOT NULL,
    account_id     TEXT,
    created_at     BIGINT  NOT NULL
);

-- A plugin id, held by the publisher that claimed it, with its listing once there is one.
CREATE TABLE plugins (
    id              TEXT    PRIMARY KEY,
    publisher_id    TEXT    NOT NULL REFERENCES publishers(id),
    claimed_at      BIGINT  NOT NULL,
    -- The names and descriptions of the highest version published, for search.
    name_zh         TEXT,
    name_en         TEXT,
    description_zh  TEXT,
    description_en  TEXT,
    -- The listing: NULL until the publisher puts the plugin on sale.
    category        TEXT,
    kind            TEXT,
    price_cents     BIGINT,
    currency        TEXT,
    period_days     BIGINT,
    grace_days      BIGINT,
    listed_at       BIGINT
);
CREATE INDEX plugins_publisher ON plugins (publisher_id);

CREATE TABLE plugin_versions (
    plugin_id         TEXT    NOT NULL REFERENCES plugins(id),
    version           TEXT    NOT NULL,
    api               TEXT    NOT NULL,
    -- plugin.toml as the package carries it.
    manifest          TEXT    NOT NULL,
    -- The capabilities the manifest requests, as a JSON array.
    capabilities      TEXT    NOT NULL,
    name_zh           TEXT    NOT NULL,
    name_en           TEXT    NOT NULL,
    description_zh    TEXT    NOT NULL,
    description_en    TEXT    NOT NULL,
    license_required  BIGINT  NOT NULL,
    -- Hex SHA-256 of the .tpkg file, and of its component (what revocations name a build by).
    sha256            TEXT    NOT NULL,
    component_sha256  TEXT    NOT NULL,
    -- The publisher key that signed it.
    key_id            TEXT    NOT NULL,
    size              BIGINT  NOT NULL,
    changelog         TEXT,
    published_at      BIGINT  NOT NULL,
    PRIMARY KEY (plugin_id, version)
);

-- The .tpkg bytes, apart from the catalog's rows so that listing versions never reads them.
CREATE TABLE package_blobs (
    plugin_id  TEXT  NOT NULL,
    version    TEXT  NOT NULL,
    bytes      BLOB  NOT NULL,
    PRIMARY KEY (plugin_id, version),
    FOREIGN KEY (plugin_id, version) REFERENCES plugin_versions (plugin_id, version)
);

-- Every purchase, with the price and terms of the listing at the time.
CREATE TABLE purchases (
    id            INTEGER PRIMARY KEY,
    org_id        TEXT    NOT NULL REFERENCES orgs(id),
    plugin_id     TEXT    NOT NULL REFERENCES plugins(id),
    kind          TEXT    NOT NULL,
    price_cents   BIGINT  NOT NULL,
    currency      TEXT,
    period_days   BIGINT,
    expires_at    BIGINT,
    purchased_at  BIGINT  NOT NULL
);
CREATE INDEX purchases_org ON purchases (org_id, plugin_id);

-- The current license token of each organisation and plugin.
CREATE TABLE licenses (
    org_id      TEXT    NOT NULL REFERENCES orgs(id),
    plugin_id   TEXT    NOT NULL REFERENCES plugins(id),
    kind        TEXT    NOT NULL,
    token       TEXT    NOT NULL,
    issued_at   BIGINT  NOT NULL,
    expires_at  BIGINT,
    grace_days  BIGINT  NOT NULL,
    PRIMARY KEY (org_id, plugin_id)
);

-- What the operator revoked: a plugin version range (or one build of it), or a publisher key.
CREATE TABLE revocations (
    id          INTEGER PRIMARY KEY,
    plugin_id   TEXT,
    version     TEXT,
    sha256      TEXT,
    key_id      TEXT,
    reason      TEXT    NOT NULL,
    created_at  BIGINT  NOT NULL
);

-- Every signed list, by its number; hosts fetch the highest.
CREATE TABLE revocation_lists (
    seq        BIGINT  PRIMARY KEY,
    issued_at  BIGINT  NOT NULL,
    envelope   TEXT    NOT NULL
);
