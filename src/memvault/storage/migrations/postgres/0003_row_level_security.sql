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
