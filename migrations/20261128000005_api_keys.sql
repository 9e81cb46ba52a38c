-- API keys: a caller's identity. The token is shown once, at creation; only its SHA-256 is
-- kept (a token is 32 random bytes, so a fast hash is enough: there is nothing to guess).
-- `name` is the owner every plan submitted with the key belongs to.
CREATE TABLE api_keys (
    name         text PRIMARY KEY CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$'),
    role         text NOT NULL CHECK (role IN ('user', 'admin')),
    token_hash   bytea NOT NULL UNIQUE,
    -- The token's first characters, to recognise it in `planner keys list`.
    prefix       text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    revoked_at   timestamptz
);
