-- A store connection holds, each part optional: the webhook secret, the shop's base URL and
-- its API credentials (Shopify's Admin API token; WooCommerce's consumer key and secret).
-- Secrets are sealed by influtrack before they are written. SQLite cannot drop NOT NULL in
-- place: the table is rebuilt.
CREATE TABLE integrations_new (
    brand_id TEXT NOT NULL REFERENCES brands(id) ON DELETE CASCADE,
    platform TEXT NOT NULL,
    webhook_secret TEXT,
    updated_at BIGINT NOT NULL,
    -- In the order PostgreSQL's ADD COLUMN leaves them (schema.rs describes both).
    base_url TEXT,
    access_token TEXT,
    consumer_key TEXT,
    consumer_secret TEXT,
    PRIMARY KEY (brand_id, platform)
);
INSERT INTO integrations_new (brand_id, platform, webhook_secret, updated_at)
    SELECT brand_id, platform, webhook_secret, updated_at FROM integrations;
DROP TABLE integrations;
ALTER TABLE integrations_new RENAME TO integrations;
