DROP TABLE settings;
DROP TABLE api_keys;
DROP TABLE brands;
