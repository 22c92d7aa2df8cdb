CREATE TABLE integrations_old (
    brand_id TEXT NOT NULL REFERENCES brands(id) ON DELETE CASCADE,
    platform TEXT NOT NULL,
    webhook_secret TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (brand_id, platform)
);
INSERT INTO integrations_old (brand_id, platform, webhook_secret, updated_at)
    SELECT brand_id, platform, webhook_secret, updated_at FROM integrations
    WHERE webhook_secret IS NOT NULL;
DROP TABLE integrations;
ALTER TABLE integrations_old RENAME TO integrations;
