-- Exchange rates a brand registered: 1 unit of `base` is `rate` units of `quote` (an exact
-- decimal string).
CREATE TABLE fx_rates (
    brand_id TEXT NOT NULL REFERENCES brands(id) ON DELETE CASCADE,
    base TEXT NOT NULL,
    quote TEXT NOT NULL,
    rate TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (brand_id, base, quote)
);

-- Webhook secrets: kept in clear because verifying an HMAC needs the key itself; never
-- returned by the API and never logged.
CREATE TABLE integrations (
    brand_id TEXT NOT NULL REFERENCES brands(id) ON DELETE CASCADE,
    platform TEXT NOT NULL,
    webhook_secret TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (brand_id, platform)
);

CREATE TABLE orders (
    id TEXT PRIMARY KEY NOT NULL,
    brand_id TEXT NOT NULL REFERENCES brands(id) ON DELETE CASCADE,
    external_id TEXT NOT NULL,
    -- SHA-256 of the normalised request: the same order again is a replay, another body a 409
    fingerprint TEXT NOT NULL,
    source TEXT NOT NULL,
    amount_micros BIGINT NOT NULL,
    currency TEXT NOT NULL,
    occurred_at BIGINT NOT NULL,
    customer_ref TEXT,
    discount_codes TEXT NOT NULL,
    click_ids TEXT NOT NULL,
    self_referral BOOLEAN NOT NULL,
    attributed BOOLEAN NOT NULL,
    refunded_micros BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX orders_external ON orders (brand_id, external_id);
CREATE INDEX orders_brand_time ON orders (brand_id, occurred_at);

-- Every touch of an order, with the rules of its campaign at order time, so that credit can
-- be recomputed under any model.
CREATE TABLE order_touches (
    order_id TEXT NOT NULL REFERENCES orders(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    brand_id TEXT NOT NULL,
    campaign_id TEXT NOT NULL,
    enrollment_id TEXT NOT NULL,
    influencer_id TEXT NOT NULL,
    via TEXT NOT NULL,
    touch_key TEXT NOT NULL,
    at BIGINT NOT NULL,
    attributable BOOLEAN NOT NULL,
    model TEXT NOT NULL,
    window_days INTEGER NOT NULL,
    code_priority BOOLEAN NOT NULL,
    PRIMARY KEY (order_id, position)
);
CREATE INDEX order_touches_campaign ON order_touches (campaign_id, order_id);

-- Credit under the campaign's own model at order time (reports recompute other models).
CREATE TABLE attributions (
    order_id TEXT NOT NULL REFERENCES orders(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    brand_id TEXT NOT NULL,
    campaign_id TEXT NOT NULL,
    enrollment_id TEXT NOT NULL,
    influencer_id TEXT NOT NULL,
    via TEXT NOT NULL,
    model TEXT,
    share_micros BIGINT NOT NULL,
    -- in the campaign's currency
    credited_micros BIGINT NOT NULL,
    currency TEXT NOT NULL,
    occurred_at BIGINT NOT NULL,
    PRIMARY KEY (order_id, position)
);
CREATE INDEX attributions_campaign ON attributions (campaign_id, enrollment_id);

CREATE TABLE refunds (
    id TEXT PRIMARY KEY NOT NULL,
    brand_id TEXT NOT NULL,
    order_id TEXT NOT NULL REFERENCES orders(id) ON DELETE CASCADE,
    external_id TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    amount_micros BIGINT NOT NULL,
    occurred_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX refunds_external ON refunds (brand_id, external_id);
CREATE INDEX refunds_order ON refunds (order_id);

CREATE TABLE events (
    id TEXT PRIMARY KEY NOT NULL,
    brand_id TEXT NOT NULL REFERENCES brands(id) ON DELETE CASCADE,
    external_id TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    kind TEXT NOT NULL,
    click_id TEXT NOT NULL,
    campaign_id TEXT,
    enrollment_id TEXT,
    influencer_id TEXT,
    occurred_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX events_external ON events (brand_id, external_id);
CREATE INDEX events_campaign ON events (campaign_id, kind);
