DROP TABLE visitor_salts;
DROP TABLE link_day_visitors;
DROP TABLE link_daily;
DROP TABLE clicks;
