-- The store's tables (crates/engine/src/store.rs), as in migrations/sqlite. Every aggregate
-- is a document; the store never looks inside bodies, so new features need no new tables.
-- Text that is ordered or compared uses the "C" collation: bytewise, as in SQLite, whatever
-- the database's locale. Bodies and payloads are json (kept as written, and accepting
-- everything SQLite accepts); labels are jsonb for the containment operator.

CREATE TABLE documents (
    kind TEXT COLLATE "C" NOT NULL,
    key TEXT COLLATE "C" NOT NULL,
    parent TEXT COLLATE "C",
    sort BIGINT NOT NULL,
    version BIGINT NOT NULL,
    body JSON NOT NULL,
    PRIMARY KEY (kind, key)
);

-- Listings of one parent's documents, and of a whole kind, both ordered by (sort, key).
CREATE INDEX documents_by_parent ON documents (kind, parent, sort, key);
CREATE INDEX documents_by_sort ON documents (kind, sort, key);

CREATE TABLE counters (
    name TEXT NOT NULL PRIMARY KEY,
    value BIGINT NOT NULL
);

-- The job queue. A job is leased when agent_id and lease_until are set; attempts counts
-- its leases.
CREATE TABLE jobs (
    id TEXT NOT NULL PRIMARY KEY,
    kind TEXT NOT NULL,
    labels JSONB NOT NULL,
    payload JSON NOT NULL,
    enqueued_at BIGINT NOT NULL,
    agent_id TEXT,
    lease_until BIGINT,
    attempts BIGINT NOT NULL DEFAULT 0
);

-- Oldest first, for leasing; and the leases, for finding the expired ones.
CREATE INDEX jobs_by_age ON jobs (enqueued_at, id);
CREATE INDEX jobs_by_lease ON jobs (lease_until) WHERE lease_until IS NOT NULL;

CREATE TABLE log_chunks (
    stream TEXT COLLATE "C" NOT NULL,
    seq BIGINT NOT NULL,
    data BYTEA NOT NULL,
    PRIMARY KEY (stream, seq)
);
