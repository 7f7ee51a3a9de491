-- Agents, conversations and stored responses (see memvault.storage.agents.AgentStore).
--
-- JSON columns hold text: `definition`, `metadata`, `data` (an item as the API shows it),
-- `body` (a response object) and `input_items` (a list of items). `seq` columns give the order
-- of creation; list cursors are names or ids, translated to a `seq` by a subquery. Nothing here
-- refers to memory stores: an agent names its memory store, which may be created later or
-- deleted without touching the agent. As elsewhere, rows are deleted explicitly in the same
-- transaction rather than by ON DELETE CASCADE.
CREATE TABLE agents (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    project TEXT NOT NULL,
    name TEXT NOT NULL,
    -- The highest version number ever given, so numbers are never reused after a delete.
    last_version INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    UNIQUE (project, name)
);

CREATE TABLE agent_versions (
    project TEXT NOT NULL,
    name TEXT NOT NULL,
    version INTEGER NOT NULL,
    description TEXT,
    metadata TEXT NOT NULL DEFAULT '{}',
    definition TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (project, name, version)
);

CREATE TABLE conversations (
    id TEXT PRIMARY KEY,
    project TEXT NOT NULL,
    metadata TEXT NOT NULL DEFAULT '{}',
    created_at INTEGER NOT NULL
);

CREATE TABLE conversation_items (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    project TEXT NOT NULL,
    conversation_id TEXT NOT NULL,
    type TEXT NOT NULL,
    data TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

-- Listing a conversation's items (and the newest ones, for the model's history).
CREATE INDEX conversation_items_by_conversation ON conversation_items (conversation_id, seq);

CREATE TABLE responses (
    id TEXT PRIMARY KEY,
    project TEXT NOT NULL,
    conversation_id TEXT,
    previous_response_id TEXT,
    body TEXT NOT NULL,
    input_items TEXT NOT NULL DEFAULT '[]',
    created_at INTEGER NOT NULL
);
