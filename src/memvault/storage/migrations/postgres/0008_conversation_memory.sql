-- A conversation bound to a memory store and a scope: the columns of
-- sqlite/0007_conversation_memory.sql, with the same meaning (all NULL, or none).
ALTER TABLE conversations ADD COLUMN memory_store text;
ALTER TABLE conversations ADD COLUMN scope_kind text;
ALTER TABLE conversations ADD COLUMN scope text;
ALTER TABLE conversations ADD CONSTRAINT conversations_memory_check
    CHECK ((memory_store IS NULL) = (scope IS NULL) AND (scope IS NULL) = (scope_kind IS NULL));
