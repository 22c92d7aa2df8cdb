-- Leads that close later, the value of a lead, every cost of a campaign, paid and organic.

-- How long a customer's earlier touches may credit an order that names only the customer;
-- the score bands of leads; a money value per event type (JSON: type -> minor-unit micros);
-- how costs without an influencer are spread over enrollments for ranking and pruning.
ALTER TABLE campaigns ADD COLUMN identity_window_days INTEGER NOT NULL DEFAULT 90;
ALTER TABLE campaigns ADD COLUMN lead_band_medium INTEGER NOT NULL DEFAULT 40;
ALTER TABLE campaigns ADD COLUMN lead_band_fast INTEGER NOT NULL DEFAULT 70;
ALTER TABLE campaigns ADD COLUMN event_values TEXT NOT NULL DEFAULT '{}';
ALTER TABLE campaigns ADD COLUMN cost_allocation TEXT NOT NULL DEFAULT 'none';

-- An event's customer (hashed when an e-mail), its own value and score, and the time of the
-- customer's first order at or after it (kept up to date as orders arrive).
ALTER TABLE events ADD COLUMN customer_ref TEXT;
ALTER TABLE events ADD COLUMN value_micros BIGINT;
ALTER TABLE events ADD COLUMN score INTEGER;
ALTER TABLE events ADD COLUMN first_order_at BIGINT;
CREATE INDEX events_customer ON events (brand_id, customer_ref, occurred_at) WHERE customer_ref IS NOT NULL;
CREATE INDEX events_campaign_time ON events (campaign_id, occurred_at);
CREATE INDEX orders_customer ON orders (brand_id, customer_ref, occurred_at) WHERE customer_ref IS NOT NULL;

-- A link used in paid amplification: its clicks, and the orders they bring, are paid.
ALTER TABLE links ADD COLUMN paid BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE order_credits ADD COLUMN paid BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE enrollment_daily ADD COLUMN paid_conversions_micros BIGINT NOT NULL DEFAULT 0;
ALTER TABLE enrollment_daily ADD COLUMN paid_gross_micros BIGINT NOT NULL DEFAULT 0;
ALTER TABLE enrollment_daily ADD COLUMN paid_refunded_micros BIGINT NOT NULL DEFAULT 0;
ALTER TABLE enrollment_totals ADD COLUMN paid_conversions_micros BIGINT NOT NULL DEFAULT 0;
ALTER TABLE enrollment_totals ADD COLUMN paid_gross_micros BIGINT NOT NULL DEFAULT 0;
ALTER TABLE enrollment_totals ADD COLUMN paid_refunded_micros BIGINT NOT NULL DEFAULT 0;

-- The touches a customer is known by: a click or code of an event or order that named the
-- customer. A later order naming only the customer is credited from them.
CREATE TABLE customer_touches (
    brand_id TEXT NOT NULL REFERENCES brands(id) ON DELETE CASCADE,
    customer_ref TEXT NOT NULL,
    via TEXT NOT NULL,
    touch_key TEXT NOT NULL,
    campaign_id TEXT NOT NULL,
    enrollment_id TEXT NOT NULL,
    influencer_id TEXT NOT NULL,
    link_id TEXT,
    at BIGINT NOT NULL,
    attributable BOOLEAN NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (brand_id, customer_ref, via, touch_key)
);

-- Orders recorded before named their customers too: their clicks and codes are bound (at
-- their latest use; paid links are not known here, so these count as organic).
INSERT INTO customer_touches (brand_id, customer_ref, via, touch_key, campaign_id, enrollment_id,
                              influencer_id, link_id, at, attributable, created_at)
SELECT o.brand_id, o.customer_ref, t.via, t.touch_key, t.campaign_id, t.enrollment_id,
       t.influencer_id, NULL, MAX(t.at),
       CASE WHEN SUM(CASE WHEN t.attributable THEN 1 ELSE 0 END) > 0 THEN TRUE ELSE FALSE END,
       MAX(o.created_at)
FROM orders o JOIN order_touches t ON t.order_id = o.id
WHERE o.customer_ref IS NOT NULL AND t.via IN ('click', 'code')
GROUP BY o.brand_id, o.customer_ref, t.via, t.touch_key, t.campaign_id, t.enrollment_id,
         t.influencer_id
-- A code carried to a successor campaign appears under both: the latest use is kept.
ORDER BY MAX(t.at) DESC
ON CONFLICT DO NOTHING;

-- Every cost of a campaign besides fees and commissions, in the campaign's currency (and as
-- entered).
CREATE TABLE costs (
    id TEXT PRIMARY KEY NOT NULL,
    brand_id TEXT NOT NULL REFERENCES brands(id) ON DELETE CASCADE,
    campaign_id TEXT NOT NULL REFERENCES campaigns(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    amount_micros BIGINT NOT NULL,
    original_micros BIGINT NOT NULL,
    original_currency TEXT NOT NULL,
    influencer_id TEXT,
    enrollment_id TEXT,
    post_url TEXT,
    note TEXT,
    incurred_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX costs_campaign ON costs (campaign_id, incurred_at);
