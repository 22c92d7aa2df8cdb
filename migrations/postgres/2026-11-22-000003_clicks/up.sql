-- The click table is append-only and written in batches: its key is a time-ordered UUIDv7 so
-- that inserts land at the end of the one B-tree, and it has no secondary index and no foreign
-- key (both would cost a random-order lookup or insert per click). Reports read the rollups.
CREATE TABLE clicks (
    id TEXT PRIMARY KEY NOT NULL,
    link_id TEXT NOT NULL,
    brand_id TEXT NOT NULL,
    campaign_id TEXT NOT NULL,
    enrollment_id TEXT NOT NULL,
    influencer_id TEXT NOT NULL,
    ts BIGINT NOT NULL,
    -- SHA-256 of (daily salt, IP, user agent), first 128 bits in hex; never the IP itself
    visitor_hash TEXT NOT NULL,
    -- human | bot | prefetch
    kind TEXT NOT NULL,
    attributable BOOLEAN NOT NULL,
    referrer_host TEXT,
    device TEXT NOT NULL,
    browser TEXT NOT NULL,
    os TEXT NOT NULL,
    country TEXT
);

-- Per link and UTC day, folded from the clicks by a background task in large transactions
-- (so the click path only appends). Every click with an id up to the `rollup_watermark`
-- setting is counted here; readers add the few seconds of clicks after it.
CREATE TABLE link_daily (
    link_id TEXT NOT NULL,
    day INTEGER NOT NULL,
    brand_id TEXT NOT NULL,
    campaign_id TEXT NOT NULL,
    enrollment_id TEXT NOT NULL,
    clicks BIGINT NOT NULL,
    unique_clicks BIGINT NOT NULL,
    bot_clicks BIGINT NOT NULL,
    attributable_clicks BIGINT NOT NULL,
    PRIMARY KEY (link_id, day)
);
CREATE INDEX link_daily_campaign ON link_daily (campaign_id, day);


-- Who was seen on a link on a day (exact unique clicks across folds, restarts and instances).
CREATE TABLE link_day_visitors (
    link_id TEXT NOT NULL,
    day INTEGER NOT NULL,
    visitor_hash TEXT NOT NULL,
    PRIMARY KEY (link_id, day, visitor_hash)
);

-- The secret salt of each UTC day's visitor hashes; old salts are deleted, so that old hashes
-- cannot be linked to new ones.
CREATE TABLE visitor_salts (
    day INTEGER PRIMARY KEY NOT NULL,
    salt TEXT NOT NULL
);
