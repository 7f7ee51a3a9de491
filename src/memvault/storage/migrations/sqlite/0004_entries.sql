-- Memory entries (the Databricks-style face): notes an agent reads and edits by path. An entry is
-- a row of `memories` with kind 'entry', so it shares its scope's vector index, text index
-- (memories_fts holds the entry's path words, description and contents), isolation, and the
-- deletes of delete_scope and delete_store. Memory calls skip kind 'entry'; entry calls see
-- nothing else. `path` is set on entries only and is their identity within (store, scope);
-- entries never expire. An edit keeps the previous text in memory_history, description included.
ALTER TABLE memories ADD COLUMN path TEXT;

ALTER TABLE memories ADD COLUMN description TEXT;

-- One entry per path in a scope; also the order of list_entries.
CREATE UNIQUE INDEX memories_entry_path ON memories (store_id, scope, path) WHERE path IS NOT NULL;

ALTER TABLE memory_history ADD COLUMN description TEXT;
