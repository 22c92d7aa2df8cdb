DROP TABLE events;
DROP TABLE refunds;
DROP TABLE attributions;
DROP TABLE order_touches;
DROP TABLE orders;
DROP TABLE integrations;
DROP TABLE fx_rates;
