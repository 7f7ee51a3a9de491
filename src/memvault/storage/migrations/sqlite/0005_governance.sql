-- Principals (holders of API keys), the privileges granted to them, and the owner of each memory
-- store (see memvault.storage.governance.GovernanceStore).
--
-- A key is never stored: `key_hash` is the hex SHA-256 of it (keys are long random tokens, so a
-- plain hash is enough and lets a request's key be looked up by index). A principal is revoked,
-- never deleted, so its name stays taken and grants and audit rows keep naming it.
CREATE TABLE principals (
    name TEXT PRIMARY KEY,
    key_hash TEXT NOT NULL UNIQUE,
    admin INTEGER NOT NULL DEFAULT 0 CHECK (admin IN (0, 1)),
    -- A key for one scope only (an end user's client); NULL: every scope.
    scope TEXT,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
);

-- One row per privilege held. `securable` is the schema's full name (`catalog.schema`) for a
-- schema, the store's id (not its name: a store made later under the same name inherits
-- nothing) for a memory store. A store's grants are deleted with it, in its delete transaction.
CREATE TABLE grants (
    securable_type TEXT NOT NULL CHECK (securable_type IN ('schema', 'memory_store')),
    securable TEXT NOT NULL,
    principal TEXT NOT NULL REFERENCES principals (name),
    privilege TEXT NOT NULL,
    granted_at INTEGER NOT NULL,
    granted_by TEXT,
    PRIMARY KEY (securable_type, securable, principal, privilege)
);

-- What one principal may see (the stores a list shows it).
CREATE INDEX grants_by_principal ON grants (principal, securable_type, securable);

-- The principal that created the store; NULL for stores made before there were principals
-- (then only admins and grantees reach them).
ALTER TABLE memory_stores ADD COLUMN owner TEXT;
