-- Upstream answers shared by every worker: keyed by provider and request, each with its
-- own expiry (forecasts hours, places days). Expired rows are overwritten on the next miss
-- and deleted by the retention cleanup.
CREATE TABLE provider_cache (
    provider   text NOT NULL,
    key        text NOT NULL,
    response   jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    PRIMARY KEY (provider, key)
);

CREATE INDEX provider_cache_expires ON provider_cache (expires_at);

-- LLM token usage of the plan's runs: prompt, completion, total tokens and calls.
ALTER TABLE plans ADD COLUMN token_usage jsonb;
