CREATE TABLE fts_progress (tbl TEXT PRIMARY KEY, indexed_rowid INTEGER NOT NULL);

CREATE TABLE episodes (
    rowid INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    namespace TEXT NOT NULL,
    agent_id TEXT,
    tags TEXT NOT NULL,
    metadata TEXT NOT NULL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    version INTEGER NOT NULL, task TEXT NOT NULL, steps TEXT NOT NULL, outcome TEXT NOT NULL,
                   success INTEGER, reward REAL, importance REAL NOT NULL);
CREATE INDEX episodes_by_namespace_created_at ON episodes(namespace, created_at);
CREATE INDEX episodes_by_agent_id_created_at ON episodes(agent_id, created_at);
CREATE VIRTUAL TABLE episodes_fts USING fts5(task, steps, outcome, content='episodes', content_rowid='rowid');
INSERT INTO fts_progress (tbl, indexed_rowid) VALUES ('episodes', 0);
CREATE TRIGGER episodes_fts_delete AFTER DELETE ON episodes WHEN old.rowid <= (SELECT indexed_rowid FROM fts_progress WHERE tbl = 'episodes') BEGIN INSERT INTO episodes_fts(episodes_fts, rowid, task, steps, outcome) VALUES ('delete', old.rowid, old.task, old.steps, old.outcome); END;
CREATE TRIGGER episodes_fts_update AFTER UPDATE OF task, steps, outcome ON episodes WHEN old.rowid <= (SELECT indexed_rowid FROM fts_progress WHERE tbl = 'episodes') BEGIN INSERT INTO episodes_fts(episodes_fts, rowid, task, steps, outcome) VALUES ('delete', old.rowid, old.task, old.steps, old.outcome); INSERT INTO episodes_fts(rowid, task, steps, outcome) VALUES (new.rowid, new.task, new.steps, new.outcome); END;

CREATE TABLE facts (
    rowid INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    namespace TEXT NOT NULL,
    agent_id TEXT,
    tags TEXT NOT NULL,
    metadata TEXT NOT NULL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    version INTEGER NOT NULL, content TEXT NOT NULL, confidence REAL NOT NULL, source_episode_ids TEXT NOT NULL);
CREATE INDEX facts_by_namespace_created_at ON facts(namespace, created_at);
CREATE INDEX facts_by_agent_id_created_at ON facts(agent_id, created_at);
CREATE VIRTUAL TABLE facts_fts USING fts5(content, content='facts', content_rowid='rowid');
INSERT INTO fts_progress (tbl, indexed_rowid) VALUES ('facts', 0);
CREATE TRIGGER facts_fts_delete AFTER DELETE ON facts WHEN old.rowid <= (SELECT indexed_rowid FROM fts_progress WHERE tbl = 'facts') BEGIN INSERT INTO facts_fts(facts_fts, rowid, content) VALUES ('delete', old.rowid, old.content); END;
CREATE TRIGGER facts_fts_update AFTER UPDATE OF content ON facts WHEN old.rowid <= (SELECT indexed_rowid FROM fts_progress WHERE tbl = 'facts') BEGIN INSERT INTO facts_fts(facts_fts, rowid, content) VALUES ('delete', old.rowid, old.content); INSERT INTO facts_fts(rowid, content) VALUES (new.rowid, new.content); END;

CREATE TABLE skills (
    rowid INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    namespace TEXT NOT NULL,
    agent_id TEXT,
    tags TEXT NOT NULL,
    metadata TEXT NOT NULL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    version INTEGER NOT NULL, name TEXT NOT NULL, description TEXT NOT NULL, steps TEXT NOT NULL, code TEXT NOT NULL,
                   uses INTEGER NOT NULL, successes INTEGER NOT NULL, last_used_at REAL,
                   UNIQUE (namespace, name));
CREATE INDEX skills_by_namespace_created_at ON skills(namespace, created_at);
CREATE INDEX skills_by_agent_id_created_at ON skills(agent_id, created_at);
CREATE VIRTUAL TABLE skills_fts USING fts5(name, description, steps, code, content='skills', content_rowid='rowid');
INSERT INTO fts_progress (tbl, indexed_rowid) VALUES ('skills', 0);
CREATE TRIGGER skills_fts_delete AFTER DELETE ON skills WHEN old.rowid <= (SELECT indexed_rowid FROM fts_progress WHERE tbl = 'skills') BEGIN INSERT INTO skills_fts(skills_fts, rowid, name, description, steps, code) VALUES ('delete', old.rowid, old.name, old.description, old.steps, old.code); END;
CREATE TRIGGER skills_fts_update AFTER UPDATE OF name, description, steps, code ON skills WHEN old.rowid <= (SELECT indexed_rowid FROM fts_progress WHERE tbl = 'skills') BEGIN INSERT INTO skills_fts(skills_fts, rowid, name, description, steps, code) VALUES ('delete', old.rowid, old.name, old.description, old.steps, old.code); INSERT INTO skills_fts(rowid, name, description, steps, code) VALUES (new.rowid, new.name, new.description, new.steps, new.code); END;
INSERT INTO episodes_fts (episodes_fts, rank) VALUES ('automerge', 16);
INSERT INTO facts_fts (facts_fts, rank) VALUES ('automerge', 16);
INSERT INTO skills_fts (skills_fts, rank) VALUES ('automerge', 16);

