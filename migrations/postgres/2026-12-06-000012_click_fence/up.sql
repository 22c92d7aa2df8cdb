-- The click fence (store::clicks::append_live): a click batch is written only when none of its
-- ids sorts below `settings.click_fence`, and a fold raises the fence only once the batches
-- already past the check have committed, so the rollups may fold every click below it.
-- Each insert calls this once: a shared advisory lock held to its commit (the raise takes it
-- exclusively, so it waits for them), then the fence read in a snapshot taken after the lock
-- (a VOLATILE function's query sees what committed before it, not before the insert began).
-- Cheaper than a row lock, which PostgreSQL writes to the table and its log on every batch
-- (measured: a row lock per batch cost the redirect ~25% of its throughput).
INSERT INTO settings (name, value) VALUES ('click_fence', '') ON CONFLICT (name) DO NOTHING;

CREATE FUNCTION influtrack_click_fence_allows(smallest TEXT) RETURNS BOOLEAN
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    PERFORM pg_advisory_xact_lock_shared(7336002);
    RETURN EXISTS (SELECT 1 FROM settings WHERE name = 'click_fence' AND value <= smallest);
END
$$;
