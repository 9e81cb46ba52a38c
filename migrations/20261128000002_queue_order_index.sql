-- Queued plans in due order, for "how many plans are due before this one" (`wait_reason`'s
-- `ahead`): a range count over at most a hundred index entries, whatever plan PostgreSQL
-- caches for the prepared statement (without it, a generic plan scanned every plan).
CREATE INDEX plans_due ON plans (due_at, id) WHERE status = 'queued';
