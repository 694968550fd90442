//! The SQLite backend of the store: one file in the data directory (or memory).
//!
//! SQLite lets one writer at a time into a database; a second writer that finds it busy
//! waits up to `busy_timeout`, but a transaction that starts by reading and then writes can
//! fail at once with `SQLITE_BUSY` when another connection wrote in between. So:
//!
//! - every write runs under one in-process writer lock, so writers of this store queue on a
//!   cheap async mutex instead of polling SQLite's lock, and never meet each other;
//! - every multi-statement write opens with `BEGIN IMMEDIATE`, which takes SQLite's write lock
//!   up front, and the connection has a 5 s busy timeout, so another process (or another
//!   `Store` on the same file) makes us wait, not fail;
//! - WAL mode lets readers run alongside the writer. A file database is read through
//!   [`readers`], plain SQLite connections that run a read on the calling thread; an
//!   in-memory one (one connection, sqlx's) through sqlx.
//!
//! The SQL uses `$n` placeholders, which sqlx's SQLite driver maps to the n-th bound value,
//! so a value can be used twice and the statements read like the PostgreSQL ones.

mod readers;

use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{AssertSqlSafe, SqliteConnection, SqliteTransaction};
use tokio::sync::{Mutex, MutexGuard};

use super::{
    Cursor, Document, DocumentRow, JOB_KIND, JobRow, LOG_KIND, LeaseRequest, LeasedJob, ListQuery,
    LogChunk, QueuedJob, RawDocument, SQLITE_MIGRATIONS, StoreError, Write, document_from_row,
    labels_json, leased_job_from_row, log_key, migrator, queued_job_from_row,
    raw_document_from_row,
};

/// How long a connection waits for another process's write lock before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// sqlx's connections of a file database: one writer at a time (the lock), and a spare for
/// what waits on it; reads go through [`readers`].
const FILE_POOL_SIZE: u32 = 2;

#[derive(Clone)]
pub(super) struct SqliteStore {
    pool: SqlitePool,
    /// Held for the whole of every write (see the module documentation).
    writer: Arc<Mutex<()>>,
    /// How reads reach the database.
    reads: Reads,
}

#[derive(Clone)]
enum Reads {
    /// A file database: plain connections, each read on the calling thread.
    Direct(Arc<readers::Readers>),
    /// An in-memory database: through sqlx's one connection.
    Sqlx(SqlxReads),
}

/// The reads through sqlx (see `shared.rs`).
#[derive(Clone)]
struct SqlxReads {
    pool: SqlitePool,
}

const JOB_COLUMNS: &str = "id, kind, labels, payload, enqueued_at, agent_id, lease_until, attempts";

impl SqliteStore {
    pub(super) async fn connect(url: &str) -> Result<SqliteStore, StoreError> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|err| StoreError::BadUrl(format!("{url} ({err})")))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true);
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        let file = options.get_filename().to_owned();
        let pool_options = if in_memory {
            // An in-memory database lives as long as a connection to it: keep exactly one,
            // forever. (sqlx names it uniquely, so each `connect` gets its own database.)
            SqlitePoolOptions::new()
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
        } else {
            if let Some(parent) = file.parent().filter(|parent| !parent.as_os_str().is_empty()) {
                create_dir(parent).await?;
            }
            SqlitePoolOptions::new().max_connections(FILE_POOL_SIZE)
        };
        let pool = pool_options.connect_with(options).await?;
        migrator(SQLITE_MIGRATIONS).run(&pool).await?;
        let reads = if in_memory {
            Reads::Sqlx(SqlxReads { pool: pool.clone() })
        } else {
            // The file exists now, in WAL mode, with its tables.
            Reads::Direct(Arc::new(readers::Readers::open(&file)?))
        };
        Ok(SqliteStore { pool, writer: Arc::new(Mutex::new(())), reads })
    }

    /// For tests that look at the database behind the store's back.
    #[cfg(test)]
    pub(super) fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    pub(super) async fn close(&self) {
        if let Reads::Direct(readers) = &self.reads {
            readers.close();
        }
        self.pool.close().await;
    }

    /// The writer lock, held by every write (see the module documentation).
    async fn single_writer(&self) -> MutexGuard<'_, ()> {
        self.writer.lock().await
    }

    /// Takes the writer lock, then SQLite's write lock with `BEGIN IMMEDIATE`.
    async fn begin_write(
        &self,
    ) -> Result<(MutexGuard<'_, ()>, SqliteTransaction<'static>), StoreError> {
        let guard = self.writer.lock().await;
        let transaction = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        Ok((guard, transaction))
    }

    pub(super) async fn get(&self, kind: &str, key: &str) -> Result<Option<Document>, StoreError> {
        match &self.reads {
            Reads::Direct(readers) => readers.get(kind, key),
            Reads::Sqlx(sqlx) => sqlx.get(kind, key).await,
        }
    }

    pub(super) async fn get_many(
        &self,
        kind: &str,
        keys: &[String],
    ) -> Result<Vec<RawDocument>, StoreError> {
        match &self.reads {
            Reads::Direct(readers) => readers.get_many(kind, keys),
            Reads::Sqlx(sqlx) => sqlx.get_many(kind, keys).await,
        }
    }

    /// Runs the listing statement built by [`super::list_sql`].
    pub(super) async fn list(
        &self,
        sql: &str,
        query: &ListQuery,
        after: Option<&Cursor>,
        limit: i64,
    ) -> Result<Vec<Document>, StoreError> {
        match &self.reads {
            Reads::Direct(readers) => readers.list(sql, query, after, limit),
            Reads::Sqlx(sqlx) => sqlx.list(sql, query, after, limit).await,
        }
    }

    pub(super) async fn expired_leases(&self, now: i64) -> Result<Vec<LeasedJob>, StoreError> {
        match &self.reads {
            Reads::Direct(readers) => readers.expired_leases(now),
            Reads::Sqlx(sqlx) => sqlx.expired_leases(now).await,
        }
    }

    pub(super) async fn queued_jobs(&self) -> Result<Vec<QueuedJob>, StoreError> {
        match &self.reads {
            Reads::Direct(readers) => readers.queued_jobs(),
            Reads::Sqlx(sqlx) => sqlx.queued_jobs().await,
        }
    }

    pub(super) async fn read_log(
        &self,
        stream: &str,
        from_seq: i64,
        limit: i64,
    ) -> Result<Vec<LogChunk>, StoreError> {
        match &self.reads {
            Reads::Direct(readers) => readers.read_log(stream, from_seq, limit),
            Reads::Sqlx(sqlx) => sqlx.read_log(stream, from_seq, limit).await,
        }
    }

    super::shared::shared_writes!();

    /// The job `lease` would take, and its attempts so far, without taking it.
    pub(super) async fn lease_candidate(
        &self,
        request: &LeaseRequest,
    ) -> Result<Option<(QueuedJob, i64)>, StoreError> {
        let row = sqlx::query_as::<_, JobRow>(AssertSqlSafe(format!(
            "SELECT {JOB_COLUMNS} FROM jobs AS job \
             WHERE job.kind IN (SELECT value FROM json_each($1)) \
               AND (job.lease_until IS NULL OR job.lease_until < $2) \
               AND NOT EXISTS ( \
                   SELECT 1 FROM json_each(job.labels) AS need \
                   WHERE NOT EXISTS ( \
                       SELECT 1 FROM json_each($3) AS have \
                       WHERE have.key = need.key AND have.value = need.value)) \
             ORDER BY job.enqueued_at, job.id LIMIT 1"
        )))
        .bind(serde_json::Value::from(request.kinds.clone()).to_string())
        .bind(request.now)
        .bind(labels_json(&request.labels))
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| {
            let attempts = row.7;
            queued_job_from_row(row).map(|job| (job, attempts))
        })
        .transpose()
    }

    pub(super) async fn lease(
        &self,
        request: &LeaseRequest,
    ) -> Result<Option<LeasedJob>, StoreError> {
        let (_writer, mut transaction) = self.begin_write().await?;
        // Label matching in SQL: a job qualifies when none of its labels lacks an equal
        // label among the agent's. The kinds and the agent's labels travel as JSON.
        let row = sqlx::query_as::<_, JobRow>(AssertSqlSafe(format!(
            "UPDATE jobs SET agent_id = $1, lease_until = $2, attempts = attempts + 1 \
             WHERE id = ( \
                 SELECT job.id FROM jobs AS job \
                 WHERE job.kind IN (SELECT value FROM json_each($3)) \
                   AND (job.lease_until IS NULL OR job.lease_until < $4) \
                   AND NOT EXISTS ( \
                       SELECT 1 FROM json_each(job.labels) AS need \
                       WHERE NOT EXISTS ( \
                           SELECT 1 FROM json_each($5) AS have \
                           WHERE have.key = need.key AND have.value = need.value)) \
                 ORDER BY job.enqueued_at, job.id LIMIT 1) \
             RETURNING {JOB_COLUMNS}"
        )))
        .bind(&request.agent_id)
        .bind(request.lease_until)
        .bind(serde_json::Value::from(request.kinds.clone()).to_string())
        .bind(request.now)
        .bind(labels_json(&request.labels))
        .fetch_optional(&mut *transaction)
        .await?;
        transaction.commit().await?;
        row.map(leased_job_from_row).transpose()
    }
}

impl SqlxReads {
    pub(super) async fn get_many(
        &self,
        kind: &str,
        keys: &[String],
    ) -> Result<Vec<RawDocument>, StoreError> {
        // The keys travel as one JSON array, so the statement is the same for any number.
        let keys = serde_json::Value::from(keys.to_vec()).to_string();
        sqlx::query_as::<_, DocumentRow>(
            "SELECT kind, key, parent, sort, version, body FROM documents \
             WHERE kind = $1 AND key IN (SELECT value FROM json_each($2))",
        )
        .bind(kind)
        .bind(keys)
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(raw_document_from_row)
        .collect()
    }

    super::shared::shared_reads!();
}

// The statements `apply_one` runs (see `shared.rs`).
/// One row of a multi-row insert (`shared::insert_rows`), its five parameters after the
/// statement's first `at`: anonymous `?`s, which SQLite numbers in order. (Numbered ones cost
/// a scan of the statement's parameter names for each one sqlx binds: quadratic in the rows.)
fn push_values_row(sql: &mut String, _at: usize) {
    sql.push_str("(?, ?, ?, ?, 1, ?)");
}
/// The most documents one multi-row insert takes (5 parameters each, well under either
/// database's limit on parameters).
const INSERT_BATCH_ROWS: usize = 100;
const INSERT_DOCUMENT: &str = "\
    INSERT INTO documents (kind, key, parent, sort, version, body) \
    VALUES ($1, $2, $3, $4, 1, $5) ON CONFLICT (kind, key) DO NOTHING";
const UPDATE_DOCUMENT: &str = "\
    UPDATE documents SET parent = $3, sort = $4, body = $5, version = version + 1 \
    WHERE kind = $1 AND key = $2 AND version = $6";
const PUT_DOCUMENT: &str = "\
    INSERT INTO documents (kind, key, parent, sort, version, body) \
    VALUES ($1, $2, $3, $4, 1, $5) ON CONFLICT (kind, key) DO UPDATE SET \
    parent = excluded.parent, sort = excluded.sort, body = excluded.body, \
    version = documents.version + 1";
const ENQUEUE_JOB: &str = "\
    INSERT INTO jobs (id, kind, labels, payload, enqueued_at, attempts) \
    VALUES ($1, $2, $3, $4, $5, 0) ON CONFLICT (id) DO NOTHING";

super::shared::apply_one!(SqliteConnection);

async fn create_dir(path: &Path) -> Result<(), StoreError> {
    tokio::fs::create_dir_all(path).await.map_err(|err| {
        StoreError::Database(sqlx::Error::Configuration(
            format!("cannot create the database directory {}: {err}", path.display()).into(),
        ))
    })
}
