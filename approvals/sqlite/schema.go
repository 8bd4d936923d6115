package sqlite

// schemaVersion is the version of lockbot's own tables (River keeps its
// own, migrated by rivermigrate). A database of a newer version is refused:
// an older lockbot would misread it.
const schemaVersion = 1

// schema creates lockbot's tables. Each record is kept whole as JSON in
// body; the other columns exist to be searched.
const schema = `
CREATE TABLE IF NOT EXISTS lockbot_meta (
	key   TEXT PRIMARY KEY,
	value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS requests (
	id      TEXT PRIMARY KEY,
	state   TEXT NOT NULL,
	created TEXT NOT NULL,
	body    TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS requests_state ON requests(state, created);
CREATE TABLE IF NOT EXISTS locks (
	id         TEXT PRIMARY KEY,
	key        TEXT NOT NULL,
	live       INTEGER NOT NULL,
	looked_up  INTEGER NOT NULL,
	request_id TEXT NOT NULL,
	created    TEXT NOT NULL,
	body       TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS locks_key ON locks(key, created);
CREATE INDEX IF NOT EXISTS locks_live ON locks(live, looked_up, created);
CREATE INDEX IF NOT EXISTS locks_request ON locks(request_id);
CREATE TABLE IF NOT EXISTS triggers (
	id       TEXT PRIMARY KEY,
	admitted TEXT NOT NULL,
	body     TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS posts (
	key      TEXT PRIMARY KEY,
	channel  TEXT NOT NULL,
	kind     TEXT NOT NULL,
	priority INTEGER NOT NULL,
	queued   TEXT NOT NULL,
	pending  INTEGER NOT NULL,
	next_try TEXT NOT NULL,
	digest   TEXT NOT NULL,
	body     TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS posts_pending ON posts(channel, pending, priority, queued);
CREATE INDEX IF NOT EXISTS posts_digest ON posts(digest);
CREATE TABLE IF NOT EXISTS seen (
	key   TEXT PRIMARY KEY,
	until TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS journal (
	seq        INTEGER PRIMARY KEY AUTOINCREMENT,
	time       TEXT NOT NULL,
	kind       TEXT NOT NULL,
	id         TEXT NOT NULL,
	target_key TEXT NOT NULL,
	body       TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS journal_time ON journal(time);
CREATE INDEX IF NOT EXISTS journal_id ON journal(id);
CREATE INDEX IF NOT EXISTS journal_target ON journal(target_key);
CREATE TABLE IF NOT EXISTS kv (
	key   TEXT PRIMARY KEY,
	value BLOB NOT NULL
);
`
