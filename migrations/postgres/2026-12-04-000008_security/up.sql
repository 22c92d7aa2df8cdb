-- Dashboard sessions: the cookie holds a random secret; only its SHA-256 is stored. A session
-- ends at sign-out, when idle or old (expires_at), or when its key is revoked.
CREATE TABLE dashboard_sessions (
    id TEXT PRIMARY KEY NOT NULL,
    key_id TEXT NOT NULL REFERENCES api_keys(id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX dashboard_sessions_key ON dashboard_sessions (key_id);

-- Signed webhook deliveries that could not be recorded (answered 2xx so that the platform
-- stops retrying): the reason, never the body.
CREATE TABLE webhook_rejections (
    id TEXT PRIMARY KEY NOT NULL,
    brand_id TEXT NOT NULL REFERENCES brands(id) ON DELETE CASCADE,
    platform TEXT NOT NULL CHECK (platform IN ('shopify', 'woocommerce')),
    reason TEXT NOT NULL,
    received_at BIGINT NOT NULL
);
CREATE INDEX webhook_rejections_brand ON webhook_rejections (brand_id, received_at);
