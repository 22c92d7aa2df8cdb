DROP TABLE payouts;
DROP TABLE prune_log;
