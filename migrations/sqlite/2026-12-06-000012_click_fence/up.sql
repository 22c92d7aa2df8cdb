-- The click fence's setting, as on PostgreSQL (both backends keep the same rows). On SQLite,
-- which one process writes, the fence itself lives in that process's memory
-- (db::locks::sqlite_click_fence) and this row stays empty.
INSERT INTO settings (name, value) VALUES ('click_fence', '') ON CONFLICT (name) DO NOTHING;
