-- The audit log: a hash chain of every deletion, grant change and key creation or revocation
-- (see memvault.storage.audit). Rows are appended in the transaction of the change they record
-- and never updated; `hash` is sha256 of the canonical encoding of
-- (seq, at, actor, action, target, prev_hash), `prev_hash` the previous row's hash (64 zeros
-- before row 1). `target` is a JSON object as text.
CREATE TABLE audit_log (
    seq INTEGER PRIMARY KEY,
    at INTEGER NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);

-- The chain head: the last seq and hash, updated with every append, so that deleting the newest
-- rows is caught too. Exactly one row; seq 0 and the genesis hash while the log is empty.
CREATE TABLE audit_head (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    seq INTEGER NOT NULL,
    hash TEXT NOT NULL
);

INSERT INTO audit_head (id, seq, hash)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');
