-- +goose Up
-- Access control: users, API tokens, dashboard sessions and the audit log.
-- Secrets are never stored: passwords as argon2id hashes, tokens and session
-- ids as their sha256 (hex).
CREATE TABLE users (
    name          text COLLATE "C" PRIMARY KEY,
    password_hash text NOT NULL DEFAULT '',
    scopes        text NOT NULL DEFAULT '', -- space-separated, e.g. "read write:local-*"
    disabled      boolean NOT NULL DEFAULT false,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL
);

CREATE TABLE api_tokens (
    id         text COLLATE "C" PRIMARY KEY,
    name       text NOT NULL,
    owner      text COLLATE "C" NOT NULL, -- a user name, or a service name
    owner_kind text NOT NULL CHECK (owner_kind IN ('user', 'service')),
    hash       text NOT NULL UNIQUE, -- sha256 of the secret, hex
    scopes     text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL,
    expires_at timestamptz NULL, -- NULL: never
    last_used  timestamptz NULL,
    revoked_at timestamptz NULL
);
CREATE INDEX api_tokens_owner_idx ON api_tokens (owner);

CREATE TABLE sessions (
    id_hash    text COLLATE "C" PRIMARY KEY, -- sha256 of the cookie's session id, hex
    principal  text COLLATE "C" NOT NULL, -- user name, token owner, or "admin"
    kind       text NOT NULL,
    token_id   text NOT NULL DEFAULT '',
    address    text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL
);
CREATE INDEX sessions_principal_idx ON sessions (principal);

CREATE TABLE audit_log (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at         timestamptz NOT NULL,
    actor      text COLLATE "C" NOT NULL DEFAULT '',
    actor_kind text NOT NULL DEFAULT '',
    token_id   text NOT NULL DEFAULT '',
    action     text COLLATE "C" NOT NULL,
    remote     text COLLATE "C" NOT NULL DEFAULT '',
    target     text NOT NULL DEFAULT '',
    count      bigint NOT NULL DEFAULT 0,
    address    text NOT NULL DEFAULT '',
    outcome    text NOT NULL DEFAULT '',
    detail     text NOT NULL DEFAULT ''
);
CREATE INDEX audit_log_at_idx ON audit_log (at);

-- +goose Down
DROP TABLE audit_log;
DROP TABLE sessions;
DROP TABLE api_tokens;
DROP TABLE users;
