-- The memvault schema on SQLite. Timestamps are integer Unix seconds; JSON columns hold text.

CREATE TABLE memory_stores (
    id TEXT PRIMARY KEY,
    project TEXT NOT NULL,
    name TEXT NOT NULL,
    chat_model TEXT NOT NULL,
    requested_embedding_model TEXT NOT NULL,
    embedding_model TEXT NOT NULL,
    embedding_dimension INTEGER NOT NULL,
    options TEXT NOT NULL DEFAULT '{}',
    description TEXT,
    metadata TEXT NOT NULL DEFAULT '{}',
    notices TEXT NOT NULL DEFAULT '[]',
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (project, name)
);

CREATE INDEX memory_stores_by_project ON memory_stores (project, id);

-- One row per scope that holds (or held) memories. Every write in the scope bumps `generation` in
-- its own transaction, so a process caching the scope (the vector index) sees when another process
-- changed it. AUTOINCREMENT keeps the id of a deleted scope from coming back, so the pair
-- (id, generation) never repeats; `id` is also the scope's token in memories_fts.
CREATE TABLE scopes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    store_id TEXT NOT NULL REFERENCES memory_stores (id),
    scope TEXT NOT NULL,
    generation INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (store_id, scope)
);

-- `seq` is the rowid made explicit so that VACUUM cannot renumber it: memories_fts rows and the
-- in-process vector index refer to memories by it.
CREATE TABLE memories (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    store_id TEXT NOT NULL REFERENCES memory_stores (id),
    scope TEXT NOT NULL,
    kind TEXT NOT NULL,
    content TEXT NOT NULL,
    embedding BLOB NOT NULL,
    status TEXT NOT NULL DEFAULT 'active',
    version INTEGER NOT NULL DEFAULT 1,
    expires_at INTEGER,
    created_by TEXT,
    updated_by TEXT,
    source TEXT NOT NULL DEFAULT '[]',
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE INDEX memories_by_scope ON memories (store_id, scope, id);

CREATE INDEX memories_by_expiry ON memories (expires_at) WHERE expires_at IS NOT NULL;

CREATE TABLE memory_history (
    memory_id TEXT NOT NULL,
    store_id TEXT NOT NULL,
    scope TEXT NOT NULL,
    version INTEGER NOT NULL,
    content TEXT NOT NULL,
    changed_at INTEGER NOT NULL,
    changed_by TEXT,
    PRIMARY KEY (memory_id, version)
);

-- rowid = memories.seq; sk = 's' || scopes.id. Queries are `sk : "s7" AND content : (...)`, so
-- FTS5 intersects posting lists instead of scanning other scopes' matches. It keeps its own copy of
-- the text (no external content): deleting by rowid then needs no old values.
CREATE VIRTUAL TABLE memories_fts USING fts5 (
    sk,
    content,
    tokenize = 'porter unicode61 remove_diacritics 2'
);
