-- The W3C trace context of the request that submitted the plan, so that the worker's run
-- continues the same trace.
ALTER TABLE plans ADD COLUMN trace_context jsonb;
