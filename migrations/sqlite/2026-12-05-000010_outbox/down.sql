ALTER TABLE links DROP COLUMN apply_code;
ALTER TABLE campaigns DROP COLUMN links_apply_code;
DROP TABLE code_sync;
DROP TABLE jobs;
