-- `runs` counts every claim of a plan and fences its writes; `attempts` counts only the
-- attempts spent (a wait for an open circuit breaker, an approval or a graceful shutdown
-- hands its attempt back).
ALTER TABLE plans ADD COLUMN runs integer NOT NULL DEFAULT 0;
UPDATE plans SET runs = attempts;

CREATE INDEX plans_finished ON plans (finished_at) WHERE finished_at IS NOT NULL;
