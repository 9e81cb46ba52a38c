-- A NOTIFY holds PostgreSQL's lock on the notification queue from its transaction's pre-commit
-- until the commit record is flushed, so transactions that notify commit one at a time, each
-- waiting for its own flush: no group commit. Submissions (one transaction each, announcing the
-- plan's `queued` event and waking the workers) saturated at the disk's flush rate. A writer
-- that announces its events itself, after its commit, in a transaction of its own that does not
-- wait for the flush (`store::plans::announce_submitted`), sets `planner.caller_announces` for
-- its transaction, and this trigger stays quiet.
CREATE OR REPLACE FUNCTION announce_plan_events() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    chunk text;
BEGIN
    IF current_setting('planner.caller_announces', true) = 'on' THEN
        RETURN NULL;
    END IF;
    FOR chunk IN
        SELECT string_agg(plan_id::text, ',')
        FROM (SELECT plan_id, (row_number() OVER () - 1) / 200 AS part
              FROM (SELECT DISTINCT plan_id FROM added) AS touched) AS numbered
        GROUP BY part
    LOOP
        PERFORM pg_notify('plan_events', chunk);
    END LOOP;
    RETURN NULL;
END;
$$;
