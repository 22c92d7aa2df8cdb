-- The credit of every order under every attribution model, so that any report can be read
-- under any model without recomputing (the touches stay in order_touches for audits).
CREATE TABLE order_credits (
    order_id TEXT NOT NULL REFERENCES orders(id) ON DELETE CASCADE,
    model TEXT NOT NULL,
    position INTEGER NOT NULL,
    campaign_id TEXT NOT NULL,
    enrollment_id TEXT NOT NULL,
    share_micros BIGINT NOT NULL,
    -- in the campaign's currency
    credited_micros BIGINT NOT NULL,
    -- refunds of the order, in proportion to this credit
    refunded_micros BIGINT NOT NULL,
    occurred_at BIGINT NOT NULL,
    self_referral BOOLEAN NOT NULL,
    PRIMARY KEY (order_id, model, position)
);
CREATE INDEX order_credits_campaign ON order_credits (campaign_id, model, occurred_at);

-- Per campaign, model, UTC day of the order and enrollment: what reports add up. Maintained
-- with every order and refund, so that reports never scan orders.
CREATE TABLE enrollment_daily (
    campaign_id TEXT NOT NULL,
    model TEXT NOT NULL,
    day INTEGER NOT NULL,
    enrollment_id TEXT NOT NULL,
    -- orders that credited the enrollment anything
    orders BIGINT NOT NULL,
    -- orders that carried one of its codes (usable at the time)
    redemptions BIGINT NOT NULL,
    conversions_micros BIGINT NOT NULL,
    gross_micros BIGINT NOT NULL,
    refunded_micros BIGINT NOT NULL,
    self_gross_micros BIGINT NOT NULL,
    self_refunded_micros BIGINT NOT NULL,
    -- Enrollment before day: a report groups by enrollment while it reads the campaign's rows
    -- in key order, with no sort.
    PRIMARY KEY (campaign_id, model, enrollment_id, day)
);

-- Reports sum a campaign's link rollups per enrollment. No counters in the index: the fold
-- updates them constantly, and an update that changes no indexed column is a HOT update that
-- PostgreSQL cleans up in place (with the counters indexed, every fold left a dead version).
DROP INDEX link_daily_campaign;
CREATE INDEX link_daily_campaign ON link_daily (campaign_id, enrollment_id, day);
ALTER TABLE link_daily SET (fillfactor = 70);
ALTER TABLE enrollment_daily SET (fillfactor = 70);

-- Clicks per enrollment and UTC hour (folded with the daily link rollups), for time series.
CREATE TABLE enrollment_hourly (
    campaign_id TEXT NOT NULL,
    hour INTEGER NOT NULL,
    enrollment_id TEXT NOT NULL,
    clicks BIGINT NOT NULL,
    PRIMARY KEY (campaign_id, hour, enrollment_id)
);

-- The clicks folded before this migration.
INSERT INTO enrollment_hourly (campaign_id, hour, enrollment_id, clicks)
SELECT campaign_id, CAST(ts / 3600000000 AS INTEGER), enrollment_id, COUNT(*)
FROM clicks
WHERE kind = 'human'
  AND id <= COALESCE((SELECT value FROM settings WHERE name = 'rollup_watermark'), '')
GROUP BY campaign_id, CAST(ts / 3600000000 AS INTEGER), enrollment_id;

-- A post's latest metrics, as the brand reports them.
CREATE TABLE posts (
    id TEXT PRIMARY KEY NOT NULL,
    brand_id TEXT NOT NULL,
    campaign_id TEXT NOT NULL,
    enrollment_id TEXT NOT NULL,
    influencer_id TEXT NOT NULL,
    post_url TEXT NOT NULL,
    platform TEXT NOT NULL,
    paid BOOLEAN NOT NULL,
    reach BIGINT NOT NULL,
    impressions BIGINT NOT NULL,
    likes BIGINT NOT NULL,
    comments BIGINT NOT NULL,
    shares BIGINT NOT NULL,
    saves BIGINT NOT NULL,
    video_views BIGINT,
    posted_at BIGINT,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX posts_url ON posts (enrollment_id, post_url);
CREATE INDEX posts_campaign ON posts (campaign_id);
