-- The outbox: every call influtrack makes to a system outside (a shop's API, later outgoing
-- webhooks) is a job written in the same transaction as the change that causes it, then
-- delivered by a background worker with retries. Jobs of one topic run in id order.
CREATE TABLE jobs (
    id TEXT PRIMARY KEY,
    brand_id TEXT NOT NULL REFERENCES brands(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    topic TEXT NOT NULL,
    payload TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    run_after BIGINT NOT NULL,
    locked_until BIGINT,
    locked_by TEXT,
    last_error TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX jobs_due ON jobs (status, run_after);
CREATE INDEX jobs_topic ON jobs (topic, status, id);
CREATE INDEX jobs_brand ON jobs (brand_id, kind, status, id);

-- Where each discount code stands in each connected shop.
CREATE TABLE code_sync (
    code_id TEXT NOT NULL,
    platform TEXT NOT NULL,
    brand_id TEXT NOT NULL REFERENCES brands(id) ON DELETE CASCADE,
    status TEXT NOT NULL,
    shop_id TEXT,
    error TEXT,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (code_id, platform)
);

-- Links that carry their enrollment's code to the shop.
ALTER TABLE campaigns ADD COLUMN links_apply_code BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE links ADD COLUMN apply_code BOOLEAN NOT NULL DEFAULT FALSE;
