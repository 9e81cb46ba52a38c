-- Live progress: every statement that adds to a plan's timeline announces, at commit, which
-- plans it touched on the channel `plan_events` (payload: plan ids, comma-separated). Each api
-- process LISTENs once and wakes the streams of those plans; streams read the rows from the
-- table, so a lost notification delays an event, it never loses one.
--
-- Per statement, not per row: a batched claim of 250 plans is one trigger call. Ids go out in
-- chunks of 200 (≈ 7.4 kB), under NOTIFY's 8,000-byte payload limit.
CREATE FUNCTION announce_plan_events() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    chunk text;
BEGIN
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

CREATE TRIGGER plan_events_announce
    AFTER INSERT ON plan_events
    REFERENCING NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION announce_plan_events();
