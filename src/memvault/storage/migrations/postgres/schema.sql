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

-- (0005_entries.sql)
-- Memory entries (the Databricks-style face): the columns of sqlite/0004_entries.sql, with the
-- same meaning. An entry is a row of `memories` with kind 'entry' and a `path` (and only
-- entries have one), so row-level security, delete_scope and delete_store cover entries too.
-- Paths compare bytewise (COLLATE "C"): list_entries pages through them in that order.
ALTER TABLE memories DROP CONSTRAINT memories_kind_check;

ALTER TABLE memories ADD CONSTRAINT memories_kind_check
    CHECK (kind IN ('user_profile', 'chat_summary', 'procedural', 'entry'));

ALTER TABLE memories ADD COLUMN path text COLLATE "C";

ALTER TABLE memories ADD COLUMN description text;

ALTER TABLE memories ADD CONSTRAINT memories_entry_path_check
    CHECK ((kind = 'entry') = (path IS NOT NULL));

-- One entry per path in a scope; also the order of list_entries.
CREATE UNIQUE INDEX memories_entry_path ON memories (store_id, scope, path)
    WHERE path IS NOT NULL;

ALTER TABLE memory_history ADD COLUMN description text;

-- (0006_governance.sql)
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

-- (0007_audit.sql)
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

-- (0008_conversation_memory.sql)
-- A conversation bound to a memory store and a scope: the columns of
-- sqlite/0007_conversation_memory.sql, with the same meaning (all NULL, or none).
ALTER TABLE conversations ADD COLUMN memory_store text;
ALTER TABLE conversations ADD COLUMN scope_kind text;
ALTER TABLE conversations ADD COLUMN scope text;
ALTER TABLE conversations ADD CONSTRAINT conversations_memory_check
    CHECK ((memory_store IS NULL) = (scope IS NULL) AND (scope IS NULL) = (scope_kind IS NULL));
