-- Principals, grants and store owners: the tables of sqlite/0005_governance.sql, with the same
-- meaning (see memvault.storage.governance.GovernanceStore). They belong to no memory scope, so
-- they have no row-level-security policy.
CREATE TABLE principals (
    name text PRIMARY KEY,
    key_hash text COLLATE "C" NOT NULL,
    admin boolean NOT NULL DEFAULT false,
    scope text,
    created_at bigint NOT NULL,
    revoked_at bigint,
    CONSTRAINT principals_key_hash_key UNIQUE (key_hash)
);

CREATE TABLE grants (
    securable_type text NOT NULL CHECK (securable_type IN ('schema', 'memory_store')),
    securable text NOT NULL,
    principal text NOT NULL REFERENCES principals (name),
    privilege text NOT NULL,
    granted_at bigint NOT NULL,
    granted_by text,
    PRIMARY KEY (securable_type, securable, principal, privilege)
);

CREATE INDEX grants_by_principal ON grants (principal, securable_type, securable);

ALTER TABLE memory_stores ADD COLUMN owner text;
