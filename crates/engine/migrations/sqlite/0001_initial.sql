-- The store's tables (crates/engine/src/store.rs). Every aggregate is a document; the
-- store never looks inside bodies, so new features need no new tables.
-- STRICT makes SQLite enforce the declared column types, as PostgreSQL does.

CREATE TABLE documents (
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    parent TEXT,
    sort INTEGER NOT NULL,
    version INTEGER NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (kind, key)
) STRICT;

-- Listings of one parent's documents, and of a whole kind, both ordered by (sort, key).
CREATE INDEX documents_by_parent ON documents (kind, parent, sort, key);
CREATE INDEX documents_by_sort ON documents (kind, sort, key);

CREATE TABLE counters (
    name TEXT NOT NULL PRIMARY KEY,
    value INTEGER NOT NULL
) STRICT;

-- The job queue. A job is leased when agent_id and lease_until are set; attempts counts
-- its leases. labels (an object of strings) and payload are JSON text.
CREATE TABLE jobs (
    id TEXT NOT NULL PRIMARY KEY,
    kind TEXT NOT NULL,
    labels TEXT NOT NULL,
    payload TEXT NOT NULL,
    enqueued_at INTEGER NOT NULL,
    agent_id TEXT,
    lease_until INTEGER,
    attempts INTEGER NOT NULL DEFAULT 0
) STRICT;

-- Oldest first, for leasing; and the leases, for finding the expired ones.
CREATE INDEX jobs_by_age ON jobs (enqueued_at, id);
CREATE INDEX jobs_by_lease ON jobs (lease_until) WHERE lease_until IS NOT NULL;

CREATE TABLE log_chunks (
    stream TEXT NOT NULL,
    seq INTEGER NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (stream, seq)
) STRICT;
