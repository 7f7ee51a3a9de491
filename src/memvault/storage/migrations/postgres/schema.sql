-- The current PostgreSQL schema in one file: what a new database is built from (the runner then
-- records every numbered migration as applied). Change it together with a new numbered migration;
-- tests/storage/test_postgres.py checks that a database built from this file equals one built by
-- replaying every migration.

-- (0001_initial.sql)
-- The memvault schema on PostgreSQL with pgvector. Timestamps are bigint Unix seconds; JSON
-- columns are jsonb.
--
-- Ids compare bytewise (COLLATE "C"): they are time-ordered, and list cursors compare them.
-- Every row of a scoped table carries `store_id` first in its key, so each table can be
-- distributed by store_id (Citus) and colocated with the others; see docs/deployment.md.
--
-- `vector` is trusted by no pgvector release: on a managed server an administrator allow-lists
-- and creates it once; IF NOT EXISTS then needs no privilege.
CREATE EXTENSION IF NOT EXISTS vector;

CREATE TABLE memory_stores (
    id text COLLATE "C" PRIMARY KEY,
    project text NOT NULL,
    name text NOT NULL,
    chat_model text NOT NULL,
    requested_embedding_model text NOT NULL,
    embedding_model text NOT NULL,
    embedding_dimension integer NOT NULL CHECK (embedding_dimension BETWEEN 1 AND 16000),
    options jsonb NOT NULL DEFAULT '{}',
    description text,
    metadata jsonb NOT NULL DEFAULT '{}',
    notices jsonb NOT NULL DEFAULT '[]',
    created_at bigint NOT NULL,
    updated_at bigint NOT NULL,
    CONSTRAINT memory_stores_project_name_key UNIQUE (project, name)
);

CREATE INDEX memory_stores_by_project ON memory_stores (project, id);

-- `embedding` has no declared dimension: stores embed with different models. Each dimension in
-- use gets its own partial HNSW index on `embedding::vector(<dim>)`, created (concurrently) when
-- the first store of that dimension is created; see storage/postgres.py.
CREATE TABLE memories (
    store_id text COLLATE "C" NOT NULL REFERENCES memory_stores (id),
    id text COLLATE "C" NOT NULL,
    scope text NOT NULL,
    kind text NOT NULL CHECK (kind IN ('user_profile', 'chat_summary', 'procedural')),
    content text NOT NULL,
    embedding vector NOT NULL,
    status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'quarantined')),
    version integer NOT NULL DEFAULT 1,
    expires_at bigint,
    created_by text,
    updated_by text,
    source jsonb NOT NULL DEFAULT '[]',
    created_at bigint NOT NULL,
    updated_at bigint NOT NULL,
    content_tsv tsvector GENERATED ALWAYS AS (to_tsvector('english'::regconfig, content)) STORED,
    PRIMARY KEY (store_id, id)
);

-- Lists, counts and the exact vector search of a scope.
CREATE INDEX memories_by_scope ON memories (store_id, scope, id);

CREATE INDEX memories_by_expiry ON memories (expires_at) WHERE expires_at IS NOT NULL;

CREATE INDEX memories_text ON memories USING gin (content_tsv);

CREATE TABLE memory_history (
    store_id text COLLATE "C" NOT NULL,
    memory_id text COLLATE "C" NOT NULL,
    scope text NOT NULL,
    version integer NOT NULL,
    content text NOT NULL,
    changed_at bigint NOT NULL,
    changed_by text,
    PRIMARY KEY (store_id, memory_id, version),
    FOREIGN KEY (store_id, memory_id) REFERENCES memories (store_id, id) ON DELETE CASCADE
);

-- (0002_updates.sql)
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

-- (0003_row_level_security.sql)
-- Row-level security: a second guard behind the WHERE clauses of storage/postgres.py.
--
-- Each transaction says what it may see with transaction-local settings (set_config(..., true)):
--   memvault.store_id + memvault.scope       one scope (every memory call, enqueue, complete)
--   memvault.store_id + memvault.all_scopes  every scope of one store (find_memory_in_store,
--                                            get_update, delete_store)
--   memvault.all_stores                      everything (the queue: claim, renew, fail; purge)
-- A transaction that set nothing sees nothing. FORCE makes the policies bind the tables' owner
-- too (memvault usually connects as the role that ran the migrations); only superusers and
-- BYPASSRLS roles pass them.
ALTER TABLE memories ENABLE ROW LEVEL SECURITY;
ALTER TABLE memories FORCE ROW LEVEL SECURITY;
CREATE POLICY memories_visible ON memories
    USING (
        current_setting('memvault.all_stores', true) = 'on'
        OR (store_id = current_setting('memvault.store_id', true)
            AND (scope = current_setting('memvault.scope', true)
                 OR current_setting('memvault.all_scopes', true) = 'on'))
    );

ALTER TABLE memory_history ENABLE ROW LEVEL SECURITY;
ALTER TABLE memory_history FORCE ROW LEVEL SECURITY;
CREATE POLICY memory_history_visible ON memory_history
    USING (
        current_setting('memvault.all_stores', true) = 'on'
        OR (store_id = current_setting('memvault.store_id', true)
            AND (scope = current_setting('memvault.scope', true)
                 OR current_setting('memvault.all_scopes', true) = 'on'))
    );

ALTER TABLE updates ENABLE ROW LEVEL SECURITY;
ALTER TABLE updates FORCE ROW LEVEL SECURITY;
CREATE POLICY updates_visible ON updates
    USING (
        current_setting('memvault.all_stores', true) = 'on'
        OR (store_id = current_setting('memvault.store_id', true)
            AND (scope = current_setting('memvault.scope', true)
                 OR current_setting('memvault.all_scopes', true) = 'on'))
    );

-- (0004_agents.sql)
-- Agents, conversations and stored responses (see memvault.storage.agents.AgentStore): the tables
-- of sqlite/0003_agents.sql, with the same meaning. storage/postgres_agents.py uses them.
--
-- JSON columns are `json`, not `jsonb`: the store keeps documents as given (key order included)
-- and never queries inside them. `seq` columns give the order of creation; list cursors are
-- names or ids, translated to a `seq` by a subquery. Appends to a conversation lock its row
-- first, so a conversation's order follows commit order and a turn's items stay together.
-- Nothing here refers to memory stores: an agent names its memory store, which may be created
-- later or deleted without touching the agent. Rows are deleted explicitly in the same
-- transaction (no ON DELETE CASCADE); the foreign keys only refuse an orphan.
--
-- No row-level security: these tables belong to a project, like memory_stores, not to a memory
-- scope. Every query names its project; there is no scope setting for a policy to check.
CREATE TABLE agents (
    seq bigint GENERATED ALWAYS AS IDENTITY,
    project text NOT NULL,
    name text NOT NULL,
    -- The highest version number ever given, so numbers are never reused after a delete.
    last_version integer NOT NULL,
    created_at bigint NOT NULL,
    PRIMARY KEY (project, name)
);

CREATE INDEX agents_by_project ON agents (project, seq);

CREATE TABLE agent_versions (
    project text NOT NULL,
    name text NOT NULL,
    version integer NOT NULL,
    description text,
    metadata json NOT NULL DEFAULT '{}',
    definition json NOT NULL,
    created_at bigint NOT NULL,
    PRIMARY KEY (project, name, version),
    FOREIGN KEY (project, name) REFERENCES agents (project, name)
);

CREATE TABLE conversations (
    id text COLLATE "C" PRIMARY KEY,
    project text NOT NULL,
    metadata json NOT NULL DEFAULT '{}',
    created_at bigint NOT NULL
);

CREATE TABLE conversation_items (
    seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id text COLLATE "C" NOT NULL UNIQUE,
    project text NOT NULL,
    conversation_id text COLLATE "C" NOT NULL REFERENCES conversations (id),
    type text NOT NULL,
    data json NOT NULL,
    created_at bigint NOT NULL
);

-- Listing a conversation's items (and the newest ones, for the model's history).
CREATE INDEX conversation_items_by_conversation ON conversation_items (conversation_id, seq);

-- A response outlives its conversation (and the response it follows): no foreign keys.
CREATE TABLE responses (
    id text COLLATE "C" PRIMARY KEY,
    project text NOT NULL,
    conversation_id text,
    previous_response_id text,
    body json NOT NULL,
    input_items json NOT NULL DEFAULT '[]',
    created_at bigint NOT NULL
);
