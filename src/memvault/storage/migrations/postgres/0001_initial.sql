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
