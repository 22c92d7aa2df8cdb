-- Outgoing webhooks: endpoints a brand subscribes to events, and every event sent to one
-- (its body kept, so that a retry or a redelivery sends the same bytes). A delivery is queued
-- as an outbox job (topic `webhook:{endpoint}`), so an endpoint's deliveries go in order.
CREATE TABLE webhooks (
    id TEXT PRIMARY KEY,
    brand_id TEXT NOT NULL REFERENCES brands(id) ON DELETE CASCADE,
    url TEXT NOT NULL,
    events TEXT NOT NULL,
    description TEXT,
    secret TEXT NOT NULL,
    enabled BOOLEAN NOT NULL,
    disabled_reason TEXT,
    failing_since BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX webhooks_brand ON webhooks (brand_id, id);

CREATE TABLE webhook_deliveries (
    id TEXT PRIMARY KEY,
    webhook_id TEXT NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
    brand_id TEXT NOT NULL REFERENCES brands(id) ON DELETE CASCADE,
    event_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    body TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    response_status INTEGER,
    latency_ms BIGINT,
    error TEXT,
    attempted_at BIGINT,
    delivered_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX webhook_deliveries_hook ON webhook_deliveries (webhook_id, id);
CREATE INDEX webhook_deliveries_old ON webhook_deliveries (updated_at);

-- Events announced once per subject (a fraud flag, a goal reached, an approved payout
-- amount): the periodic sweep inserts the subject and sends the event only when the insert
-- took, so several instances announce each once.
CREATE TABLE announcements (
    event_type TEXT NOT NULL,
    subject TEXT NOT NULL,
    brand_id TEXT NOT NULL REFERENCES brands(id) ON DELETE CASCADE,
    campaign_id TEXT,
    at BIGINT NOT NULL,
    PRIMARY KEY (event_type, subject)
);
CREATE INDEX announcements_campaign ON announcements (campaign_id, event_type);
