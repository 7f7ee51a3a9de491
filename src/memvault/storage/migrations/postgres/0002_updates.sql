-- The durable job queue behind update_memories (see Store.enqueue_update and friends).
--
-- `seq` orders a scope's updates: enqueue_update assigns it under the scope's advisory lock, so
-- within a scope it follows commit order even when replicas' clocks (and so their time-ordered
-- `upd_…` ids) disagree. `messages` is a list of {"role", "text", "update_id"}.
CREATE TABLE updates (
    store_id text COLLATE "C" NOT NULL REFERENCES memory_stores (id),
    id text COLLATE "C" NOT NULL,
    seq bigint GENERATED ALWAYS AS IDENTITY,
    scope text NOT NULL,
    status text NOT NULL
        CHECK (status IN ('queued', 'in_progress', 'completed', 'failed', 'superseded')),
    messages jsonb NOT NULL DEFAULT '[]',
    run_at bigint NOT NULL,
    created_at bigint NOT NULL,
    updated_at bigint NOT NULL,
    previous_update_id text,
    superseded_by text,
    attempts integer NOT NULL DEFAULT 0,
    lease_owner text,
    lease_until bigint,
    result jsonb,
    error jsonb,
    PRIMARY KEY (store_id, id)
);

-- claim_update walks the unfinished jobs in due order; finished rows stay out of the index.
CREATE INDEX updates_due ON updates (run_at, seq) WHERE status IN ('queued', 'in_progress');

-- The claim's check for an earlier or running job of the scope, enqueue_update superseding the
-- queued ones, delete_scope failing them.
CREATE INDEX updates_unfinished_by_scope ON updates (store_id, scope, seq)
    WHERE status IN ('queued', 'in_progress');

-- renew_lease and fail_update know the job's id only.
CREATE INDEX updates_by_id ON updates (id);
