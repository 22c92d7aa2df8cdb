-- Money is BIGINT micro-units (10^-6); rates are BIGINT millionths; times are BIGINT
-- microseconds since the epoch (UTC).
CREATE TABLE influencers (
    id TEXT PRIMARY KEY NOT NULL,
    brand_id TEXT NOT NULL REFERENCES brands(id) ON DELETE CASCADE,
    handle TEXT NOT NULL,
    handle_norm TEXT NOT NULL,
    display_name TEXT NOT NULL,
    email TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    deleted_at BIGINT
);
-- A deleted influencer frees its handle but keeps its history.
CREATE UNIQUE INDEX influencers_handle ON influencers (brand_id, handle_norm) WHERE deleted_at IS NULL;
CREATE INDEX influencers_brand ON influencers (brand_id, id);

CREATE TABLE influencer_platforms (
    influencer_id TEXT NOT NULL REFERENCES influencers(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    platform TEXT NOT NULL,
    handle TEXT NOT NULL,
    followers BIGINT,
    PRIMARY KEY (influencer_id, position)
);
CREATE INDEX influencer_platforms_platform ON influencer_platforms (platform, influencer_id);

CREATE TABLE influencer_tags (
    influencer_id TEXT NOT NULL REFERENCES influencers(id) ON DELETE CASCADE,
    tag TEXT NOT NULL,
    PRIMARY KEY (influencer_id, tag)
);
CREATE INDEX influencer_tags_tag ON influencer_tags (tag, influencer_id);

CREATE TABLE campaigns (
    id TEXT PRIMARY KEY NOT NULL,
    brand_id TEXT NOT NULL REFERENCES brands(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    slug TEXT NOT NULL,
    destination_url TEXT NOT NULL,
    currency TEXT NOT NULL,
    budget_micros BIGINT,
    starts_at BIGINT,
    ends_at BIGINT,
    status TEXT NOT NULL,
    goal_metric TEXT,
    goal_target_micros BIGINT,
    attribution_model TEXT NOT NULL,
    window_days INTEGER NOT NULL,
    code_priority BOOLEAN NOT NULL,
    holding_days INTEGER NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX campaigns_slug ON campaigns (brand_id, slug);
CREATE INDEX campaigns_brand ON campaigns (brand_id, id);

CREATE TABLE enrollments (
    id TEXT PRIMARY KEY NOT NULL,
    brand_id TEXT NOT NULL REFERENCES brands(id) ON DELETE CASCADE,
    campaign_id TEXT NOT NULL REFERENCES campaigns(id) ON DELETE CASCADE,
    influencer_id TEXT NOT NULL REFERENCES influencers(id),
    status TEXT NOT NULL,
    fee_micros BIGINT NOT NULL,
    commission_rate_micros BIGINT NOT NULL,
    goal_metric TEXT,
    goal_target_micros BIGINT,
    created_at BIGINT NOT NULL,
    pruned_at BIGINT
);
CREATE UNIQUE INDEX enrollments_pair ON enrollments (campaign_id, influencer_id);
CREATE INDEX enrollments_influencer ON enrollments (influencer_id);

CREATE TABLE links (
    id TEXT PRIMARY KEY NOT NULL,
    brand_id TEXT NOT NULL REFERENCES brands(id) ON DELETE CASCADE,
    campaign_id TEXT NOT NULL REFERENCES campaigns(id) ON DELETE CASCADE,
    enrollment_id TEXT NOT NULL REFERENCES enrollments(id) ON DELETE CASCADE,
    influencer_id TEXT NOT NULL,
    code TEXT NOT NULL UNIQUE,
    label TEXT,
    -- NULL: the campaign's destination, so that changing it moves every default link.
    destination_url TEXT,
    -- UTM overrides; NULL means the default (handle, "influencer", campaign slug, label).
    utm_source TEXT,
    utm_medium TEXT,
    utm_campaign TEXT,
    utm_content TEXT,
    utm_term TEXT,
    status TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX links_enrollment ON links (enrollment_id, id);

CREATE TABLE discount_codes (
    id TEXT PRIMARY KEY NOT NULL,
    brand_id TEXT NOT NULL REFERENCES brands(id) ON DELETE CASCADE,
    campaign_id TEXT NOT NULL REFERENCES campaigns(id) ON DELETE CASCADE,
    enrollment_id TEXT NOT NULL REFERENCES enrollments(id) ON DELETE CASCADE,
    influencer_id TEXT NOT NULL,
    code TEXT NOT NULL,
    code_norm TEXT NOT NULL,
    discount_type TEXT NOT NULL,
    discount_value_micros BIGINT NOT NULL,
    max_redemptions BIGINT,
    redemptions BIGINT NOT NULL DEFAULT 0,
    expires_at BIGINT,
    status TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX discount_codes_code ON discount_codes (brand_id, code_norm);
CREATE INDEX discount_codes_enrollment ON discount_codes (enrollment_id, id);
