-- Every prune and reinstatement: who (which key), when, under which rules and model, and the
-- figures behind each verdict.
CREATE TABLE prune_log (
    id TEXT PRIMARY KEY NOT NULL,
    brand_id TEXT NOT NULL,
    campaign_id TEXT NOT NULL,
    action TEXT NOT NULL,
    key_id TEXT NOT NULL,
    at BIGINT NOT NULL,
    model TEXT,
    rules TEXT NOT NULL,
    entries TEXT NOT NULL
);
CREATE INDEX prune_log_campaign ON prune_log (campaign_id, at);

-- Money paid to influencers (recorded by the brand), per campaign.
CREATE TABLE payouts (
    id TEXT PRIMARY KEY NOT NULL,
    brand_id TEXT NOT NULL,
    campaign_id TEXT NOT NULL,
    enrollment_id TEXT NOT NULL,
    influencer_id TEXT NOT NULL,
    amount_micros BIGINT NOT NULL,
    reference TEXT,
    key_id TEXT NOT NULL,
    paid_at BIGINT NOT NULL
);
CREATE INDEX payouts_campaign ON payouts (campaign_id, enrollment_id);
-- A reference names one payment (NULLs are many).
CREATE UNIQUE INDEX payouts_reference ON payouts (campaign_id, reference);
