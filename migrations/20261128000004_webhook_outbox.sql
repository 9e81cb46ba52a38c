-- Completion webhooks: an outbox of deliveries to a plan's `callback_url`. A trigger on the
-- plans table writes the delivery in the same transaction as the status change, whichever
-- path makes it (a run's end, a cancel, a decision, the batched success write), and only for
-- plans whose request has a `callback_url`: the queue's other writes pay nothing but the
-- trigger's WHEN test. The payload is the plan's summary at that moment; the row's id is the
-- delivery id the receiver deduplicates on, the same on every try.
CREATE TABLE webhook_deliveries (
    id               uuid PRIMARY KEY,
    plan_id          uuid NOT NULL REFERENCES plans (id) ON DELETE CASCADE,
    -- The status the plan reached.
    event            text NOT NULL,
    -- The plan's `runs` then: the same status may be reached again only in a later run
    -- (a failed plan retried fails again), never twice in one.
    run              integer NOT NULL,
    url              text NOT NULL,
    payload          jsonb NOT NULL,
    state            text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'failed')),
    -- Tries started; a try's claim pushes `next_attempt_at` past its timeout (a lease), so a
    -- sender killed mid-try leaves the delivery to be tried again.
    attempts         integer NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    last_error       text,
    last_status_code integer,
    created_at       timestamptz NOT NULL DEFAULT now(),
    delivered_at     timestamptz,
    UNIQUE (plan_id, event, run)
);

CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE state = 'pending';

CREATE FUNCTION enqueue_plan_webhook() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    delivery uuid := gen_random_uuid();
BEGIN
    INSERT INTO webhook_deliveries (id, plan_id, event, run, url, payload)
    VALUES (delivery, NEW.id, NEW.status, NEW.runs, NEW.request->>'callback_url', jsonb_build_object(
        'delivery_id', delivery,
        'event', NEW.status,
        'plan_id', NEW.id,
        'status', NEW.status,
        'occurred_at', now(),
        'created_at', NEW.created_at,
        'finished_at', NEW.finished_at,
        'destination', coalesce(NEW.result->>'destination', NEW.request->>'destination'),
        'error', CASE WHEN NEW.status = 'failed' AND NEW.error IS NOT NULL
                      THEN jsonb_build_object('code', NEW.error->'code', 'message', NEW.error->'message') END,
        'approval_reason', CASE WHEN NEW.status = 'awaiting_approval' THEN NEW.approval->'reason' END,
        'result', CASE WHEN NEW.status = 'succeeded' AND NEW.result IS NOT NULL THEN jsonb_build_object(
            'start_date', NEW.result->'start_date',
            'end_date', NEW.result->'end_date',
            'days', CASE WHEN jsonb_typeof(NEW.result->'days') = 'array'
                         THEN jsonb_array_length(NEW.result->'days') END,
            'total_cost', NEW.result->'costs'->'total',
            'currency', NEW.result->'currency') END,
        'links', jsonb_build_object('plan', '/v1/plans/' || NEW.id)))
    ON CONFLICT (plan_id, event, run) DO NOTHING;
    PERFORM pg_notify('planner_webhooks', '');
    RETURN NULL;
END
$$;

CREATE TRIGGER plans_enqueue_webhook
AFTER UPDATE OF status ON plans
FOR EACH ROW
WHEN (NEW.status IS DISTINCT FROM OLD.status
      AND NEW.status IN ('awaiting_approval', 'succeeded', 'failed', 'cancelled', 'rejected')
      AND NEW.request ? 'callback_url')
EXECUTE FUNCTION enqueue_plan_webhook();
