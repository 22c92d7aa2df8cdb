-- A store connection holds, each part optional: the webhook secret, the shop's base URL and
-- its API credentials (Shopify's Admin API token; WooCommerce's consumer key and secret).
-- Secrets are sealed by influtrack before they are written.
ALTER TABLE integrations ALTER COLUMN webhook_secret DROP NOT NULL;
ALTER TABLE integrations ADD COLUMN base_url TEXT;
ALTER TABLE integrations ADD COLUMN access_token TEXT;
ALTER TABLE integrations ADD COLUMN consumer_key TEXT;
ALTER TABLE integrations ADD COLUMN consumer_secret TEXT;
