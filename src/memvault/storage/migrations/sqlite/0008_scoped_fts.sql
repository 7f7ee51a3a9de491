-- Full-text rows in words of their scope (memvault.storage.fts, "Scoped words"): `s7xcoffee`
-- for "coffee" in the scope whose id is 7, instead of a shared vocabulary restricted by a token
-- column `sk`. Each posting list then belongs to one scope: a query reads only its own scope's
-- postings, and bm25's document frequencies are the scope's own.
--
-- memvault_scoped_words(prefix, text) is memvault.storage.fts.scoped_words, which the migration
-- runner registers on its connection. Rebuilding costs about a minute per million memories.
CREATE VIRTUAL TABLE memories_fts_scoped USING fts5 (
    words,
    tokenize = 'porter unicode61 remove_diacritics 2'
);
INSERT INTO memories_fts_scoped (rowid, words)
SELECT rowid, memvault_scoped_words(sk || 'x', content) FROM memories_fts;
DROP TABLE memories_fts;
ALTER TABLE memories_fts_scoped RENAME TO memories_fts;
