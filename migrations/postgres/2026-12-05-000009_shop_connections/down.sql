ALTER TABLE integrations DROP COLUMN consumer_secret;
ALTER TABLE integrations DROP COLUMN consumer_key;
ALTER TABLE integrations DROP COLUMN access_token;
ALTER TABLE integrations DROP COLUMN base_url;
DELETE FROM integrations WHERE webhook_secret IS NULL;
ALTER TABLE integrations ALTER COLUMN webhook_secret SET NOT NULL;
