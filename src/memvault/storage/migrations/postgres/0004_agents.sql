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
