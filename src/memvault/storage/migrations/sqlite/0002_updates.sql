-- The durable job queue behind update_memories (see Store.enqueue_update and friends).
--
-- `id` is an `upd_…` id: time-ordered, so it doubles as the queue's tie-breaker and as the order
-- of one scope's updates. JSON columns hold text: `messages` is a list of
-- {"role", "text", "update_id"} (update_id is the update a message was sent with, which differs
-- from `id` when a superseded update's messages were carried over), `result` and `error` are
-- objects. Like `scopes` and `memories`, a row refers to its store without ON DELETE CASCADE:
-- delete_store deletes a store's updates itself, in the same transaction.
CREATE TABLE updates (
    id TEXT PRIMARY KEY,
    store_id TEXT NOT NULL REFERENCES memory_stores (id),
    scope TEXT NOT NULL,
    status TEXT NOT NULL
        CHECK (status IN ('queued', 'in_progress', 'completed', 'failed', 'superseded')),
    messages TEXT NOT NULL DEFAULT '[]',
    run_at INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    previous_update_id TEXT,
    superseded_by TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    lease_owner TEXT,
    lease_until INTEGER,
    result TEXT,
    error TEXT
);

-- claim_update: the due jobs, oldest first, among the queued and in-progress rows only (finished
-- rows pile up, and this index keeps them out of the scan).
CREATE INDEX updates_by_due ON updates (status, run_at);

-- Per-scope lookups: the queued updates enqueue_update supersedes, the claim's check for another
-- running or earlier job of the scope, delete_scope failing the unfinished ones.
CREATE INDEX updates_by_scope ON updates (store_id, scope, status);

-- get_update (store-wide by id) and delete_store.
CREATE INDEX updates_by_store ON updates (store_id, id);
