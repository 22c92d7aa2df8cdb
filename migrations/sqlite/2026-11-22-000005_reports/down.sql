DROP TABLE posts;
DROP TABLE enrollment_hourly;
DROP INDEX link_daily_campaign;
CREATE INDEX link_daily_campaign ON link_daily (campaign_id, day);
DROP TABLE enrollment_daily;
DROP TABLE order_credits;
