-- Exclusion rules of a campaign: the clicks and orders they match stay stored but leave its
-- reports, rankings, pruning and commissions. A rule is never erased: deleting it records
-- who deleted it and why, so the table is also the audit of every exclusion.
CREATE TABLE exclusions (
    id TEXT PRIMARY KEY,
    brand_id TEXT NOT NULL REFERENCES brands(id) ON DELETE CASCADE,
    campaign_id TEXT NOT NULL REFERENCES campaigns(id) ON DELETE CASCADE,
    visitor TEXT,
    link_id TEXT,
    referrer_host TEXT,
    from_at BIGINT,
    to_at BIGINT,
    order_id TEXT,
    reason TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    deleted_by TEXT,
    deleted_reason TEXT,
    deleted_at BIGINT
);
CREATE INDEX exclusions_campaign ON exclusions (campaign_id, id);
