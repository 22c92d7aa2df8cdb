DROP TABLE exclusions;
