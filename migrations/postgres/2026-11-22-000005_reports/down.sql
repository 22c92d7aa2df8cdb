DROP TABLE posts;
DROP TABLE enrollment_hourly;
DROP TABLE enrollment_daily;
DROP TABLE order_credits;
