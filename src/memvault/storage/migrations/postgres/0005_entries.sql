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
