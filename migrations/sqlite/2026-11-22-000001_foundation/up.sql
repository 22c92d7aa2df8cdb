-- Times are microseconds since the Unix epoch (UTC) in BIGINT; ids are UUIDv7 text.
CREATE TABLE brands (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE api_keys (
    id TEXT PRIMARY KEY NOT NULL,
    brand_id TEXT NOT NULL REFERENCES brands(id) ON DELETE CASCADE,
    -- public part of the key, used to find the row; the secret is only stored hashed
    lookup TEXT NOT NULL UNIQUE,
    secret_hash TEXT NOT NULL,
    scope TEXT NOT NULL CHECK (scope IN ('admin', 'read', 'storefront', 'influencer')),
    name TEXT NOT NULL,
    influencer_id TEXT,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE INDEX api_keys_brand ON api_keys (brand_id, id);

CREATE TABLE settings (
    name TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
);
