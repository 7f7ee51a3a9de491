-- The audit log: a hash chain of every deletion, grant change and key creation or revocation
-- (see memvault.storage.audit). Rows are appended in the transaction of the change they record
-- and never updated; `hash` is sha256 of the canonical encoding of
-- (seq, at, actor, action, target, prev_hash), `prev_hash` the previous row's hash (64 zeros
-- before row 1). No row-level security: the log spans stores and scopes, and only the admin
-- endpoint and `memvault audit` read it.
CREATE TABLE audit_log (
    seq bigint PRIMARY KEY,
    at bigint NOT NULL,
    actor text NOT NULL,
    action text NOT NULL,
    target jsonb NOT NULL,
    prev_hash text NOT NULL,
    hash text NOT NULL
);

-- The chain head: the last seq and hash, updated with every append, so that deleting the newest
-- rows is caught too. Appends lock this row until they commit, so the appends of every replica
-- take turns and the chain never forks. Exactly one row; seq 0 and the genesis hash while the
-- log is empty.
CREATE TABLE audit_head (
    id integer PRIMARY KEY CHECK (id = 1),
    seq bigint NOT NULL,
    hash text NOT NULL
);

INSERT INTO audit_head (id, seq, hash)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');
