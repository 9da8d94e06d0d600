CREATE TABLE items (
    rowid INTEGER PRIMARY KEY AUTOINCREMENT,
    path TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    text TEXT NOT NULL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    version INTEGER NOT NULL,
    ttl REAL,
    expires_at REAL,
    UNIQUE (path, key)
);
CREATE INDEX items_by_expiry ON items(expires_at) WHERE expires_at IS NOT NULL;
CREATE VIRTUAL TABLE items_fts USING fts5(text, content='items', content_rowid='rowid');
INSERT INTO items_fts (items_fts, rank) VALUES ('automerge', 16);
CREATE TRIGGER items_fts_insert AFTER INSERT ON items BEGIN
    INSERT INTO items_fts (rowid, text) VALUES (new.rowid, new.text);
END;
CREATE TRIGGER items_fts_delete AFTER DELETE ON items BEGIN
    INSERT INTO items_fts (items_fts, rowid, text) VALUES ('delete', old.rowid, old.text);
END;
CREATE TRIGGER items_fts_update AFTER UPDATE OF text ON items BEGIN
    INSERT INTO items_fts (items_fts, rowid, text) VALUES ('delete', old.rowid, old.text);
    INSERT INTO items_fts (rowid, text) VALUES (new.rowid, new.text);
END;
