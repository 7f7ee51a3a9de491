-- A conversation bound to a memory store and a scope (see memvault.storage.agents.ConversationMemory).
--
-- Given when the conversation is created and never changed: `memory_store` is the store's name
-- within the conversation's project, `scope` the scope every response of the conversation
-- searches and learns into, `scope_kind` the kind the client gave it (`user`, `user_defined`).
-- All three are NULL for an unbound conversation. Like an agent's memory tool, the binding names
-- its store: deleting the store leaves the conversation, whose next response then fails.
ALTER TABLE conversations ADD COLUMN memory_store TEXT;
ALTER TABLE conversations ADD COLUMN scope_kind TEXT;
ALTER TABLE conversations ADD COLUMN scope TEXT;
