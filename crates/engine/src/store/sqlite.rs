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
//! - WAL mode lets readers run alongside the writer, on the other pooled connections.
//!
//! The SQL uses `$n` placeholders, which sqlx's SQLite driver maps to the n-th bound value,
//! so a value can be used twice and the statements read like the PostgreSQL ones.

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
    LogChunk, QueuedJob, SQLITE_MIGRATIONS, StoreError, Write, document_from_row, labels_json,
    leased_job_from_row, log_key, migrator, queued_job_from_row,
};

/// How long a connection waits for another process's write lock before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// Connections of a file database: one writer at a time (the lock) plus readers.
const FILE_POOL_SIZE: u32 = 8;

#[derive(Clone)]
pub(super) struct SqliteStore {
    pool: SqlitePool,
    /// Held for the whole of every write (see the module documentation).
    writer: Arc<Mutex<()>>,
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
        let pool_options = if in_memory {
            // An in-memory database lives as long as a connection to it: keep exactly one,
            // forever. (sqlx names it uniquely, so each `connect` gets its own database.)
            SqlitePoolOptions::new()
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
        } else {
            let file = options.get_filename();
            if let Some(parent) = file.parent().filter(|parent| !parent.as_os_str().is_empty()) {
                create_dir(parent).await?;
            }
            SqlitePoolOptions::new().max_connections(FILE_POOL_SIZE)
        };
        let pool = pool_options.connect_with(options).await?;
        migrator(SQLITE_MIGRATIONS).run(&pool).await?;
        Ok(SqliteStore { pool, writer: Arc::new(Mutex::new(())) })
    }

    /// For tests that look at the database behind the store's back.
    #[cfg(test)]
    pub(super) fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    pub(super) async fn close(&self) {
        self.pool.close().await;
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
        sqlx::query_as::<_, DocumentRow>(
            "SELECT kind, key, parent, sort, version, body FROM documents \
             WHERE kind = $1 AND key = $2",
        )
        .bind(kind)
        .bind(key)
        .fetch_optional(&self.pool)
        .await?
        .map(document_from_row)
        .transpose()
    }

    pub(super) async fn get_many(
        &self,
        kind: &str,
        keys: &[String],
    ) -> Result<Vec<Document>, StoreError> {
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
        .map(document_from_row)
        .collect()
    }

    /// Runs the listing statement built by [`super::list_sql`].
    pub(super) async fn list(
        &self,
        sql: &str,
        query: &ListQuery,
        after: Option<&Cursor>,
        limit: i64,
    ) -> Result<Vec<Document>, StoreError> {
        let mut statement =
            sqlx::query_as::<_, DocumentRow>(AssertSqlSafe(sql.to_owned())).bind(&query.kind);
        if let Some(parent) = &query.parent {
            statement = statement.bind(parent);
        }
        if let Some(after) = after {
            statement = statement.bind(after.sort).bind(&after.key);
        }
        statement
            .bind(limit)
            .fetch_all(&self.pool)
            .await?
            .into_iter()
            .map(document_from_row)
            .collect()
    }

    pub(super) async fn next_counter(&self, name: &str) -> Result<i64, StoreError> {
        let _writer = self.writer.lock().await;
        // One statement, so it is its own transaction and takes the write lock up front.
        let value = sqlx::query_scalar::<_, i64>(
            "INSERT INTO counters (name, value) VALUES ($1, 1) \
             ON CONFLICT (name) DO UPDATE SET value = counters.value + 1 RETURNING value",
        )
        .bind(name)
        .fetch_one(&self.pool)
        .await?;
        Ok(value)
    }

    pub(super) async fn apply(&self, writes: Vec<Write>) -> Result<(), StoreError> {
        let (_writer, mut transaction) = self.begin_write().await?;
        for write in writes {
            if let Err(err) = apply_one(&mut transaction, write).await {
                // Rolled back now, not when the connection is next used, so that SQLite's
                // write lock is free before the writer lock is.
                let _ = transaction.rollback().await;
                return Err(err);
            }
        }
        transaction.commit().await?;
        Ok(())
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

    pub(super) async fn renew(
        &self,
        job_id: &str,
        agent_id: &str,
        lease_until: i64,
    ) -> Result<bool, StoreError> {
        let _writer = self.writer.lock().await;
        let result =
            sqlx::query("UPDATE jobs SET lease_until = $3 WHERE id = $1 AND agent_id = $2")
                .bind(job_id)
                .bind(agent_id)
                .bind(lease_until)
                .execute(&self.pool)
                .await?;
        Ok(result.rows_affected() == 1)
    }

    pub(super) async fn expired_leases(&self, now: i64) -> Result<Vec<LeasedJob>, StoreError> {
        sqlx::query_as::<_, JobRow>(AssertSqlSafe(format!(
            "SELECT {JOB_COLUMNS} FROM jobs \
             WHERE lease_until IS NOT NULL AND lease_until < $1 ORDER BY lease_until, id"
        )))
        .bind(now)
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(leased_job_from_row)
        .collect()
    }

    pub(super) async fn queued_jobs(&self) -> Result<Vec<QueuedJob>, StoreError> {
        sqlx::query_as::<_, JobRow>(AssertSqlSafe(format!(
            "SELECT {JOB_COLUMNS} FROM jobs WHERE agent_id IS NULL ORDER BY enqueued_at, id"
        )))
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(queued_job_from_row)
        .collect()
    }

    pub(super) async fn append_log(
        &self,
        stream: &str,
        seq: i64,
        data: &[u8],
    ) -> Result<(), StoreError> {
        let _writer = self.writer.lock().await;
        let result = sqlx::query(
            "INSERT INTO log_chunks (stream, seq, data) VALUES ($1, $2, $3) \
             ON CONFLICT (stream, seq) DO NOTHING",
        )
        .bind(stream)
        .bind(seq)
        .bind(data)
        .execute(&self.pool)
        .await?;
        if result.rows_affected() == 0 {
            return Err(StoreError::AlreadyExists {
                kind: LOG_KIND.to_owned(),
                key: log_key(stream, seq),
            });
        }
        Ok(())
    }

    pub(super) async fn read_log(
        &self,
        stream: &str,
        from_seq: i64,
        limit: i64,
    ) -> Result<Vec<LogChunk>, StoreError> {
        let rows = sqlx::query_as::<_, (i64, Vec<u8>)>(
            "SELECT seq, data FROM log_chunks WHERE stream = $1 AND seq >= $2 \
             ORDER BY seq LIMIT $3",
        )
        .bind(stream)
        .bind(from_seq)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(|(seq, data)| LogChunk { seq, data }).collect())
    }

    pub(super) async fn delete_log(&self, stream: &str) -> Result<(), StoreError> {
        let _writer = self.writer.lock().await;
        sqlx::query("DELETE FROM log_chunks WHERE stream = $1")
            .bind(stream)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

/// One write of a batch, inside the batch's transaction.
async fn apply_one(connection: &mut SqliteConnection, write: Write) -> Result<(), StoreError> {
    match write {
        Write::Insert(document) => {
            let result = sqlx::query(
                "INSERT INTO documents (kind, key, parent, sort, version, body) \
                 VALUES ($1, $2, $3, $4, 1, $5) ON CONFLICT (kind, key) DO NOTHING",
            )
            .bind(&document.kind)
            .bind(&document.key)
            .bind(&document.parent)
            .bind(document.sort)
            .bind(document.body.to_string())
            .execute(&mut *connection)
            .await?;
            if result.rows_affected() == 0 {
                return Err(StoreError::AlreadyExists { kind: document.kind, key: document.key });
            }
        }
        Write::Update { document, expected_version } => {
            let result = sqlx::query(
                "UPDATE documents SET parent = $3, sort = $4, body = $5, version = version + 1 \
                 WHERE kind = $1 AND key = $2 AND version = $6",
            )
            .bind(&document.kind)
            .bind(&document.key)
            .bind(&document.parent)
            .bind(document.sort)
            .bind(document.body.to_string())
            .bind(expected_version)
            .execute(&mut *connection)
            .await?;
            if result.rows_affected() == 0 {
                let exists = sqlx::query("SELECT 1 FROM documents WHERE kind = $1 AND key = $2")
                    .bind(&document.kind)
                    .bind(&document.key)
                    .fetch_optional(&mut *connection)
                    .await?
                    .is_some();
                let (kind, key) = (document.kind, document.key);
                return Err(if exists {
                    StoreError::Conflict { kind, key }
                } else {
                    StoreError::NotFound { kind, key }
                });
            }
        }
        Write::Put(document) => {
            sqlx::query(
                "INSERT INTO documents (kind, key, parent, sort, version, body) \
                 VALUES ($1, $2, $3, $4, 1, $5) ON CONFLICT (kind, key) DO UPDATE SET \
                 parent = excluded.parent, sort = excluded.sort, body = excluded.body, \
                 version = documents.version + 1",
            )
            .bind(&document.kind)
            .bind(&document.key)
            .bind(&document.parent)
            .bind(document.sort)
            .bind(document.body.to_string())
            .execute(&mut *connection)
            .await?;
        }
        Write::Delete { kind, key } => {
            sqlx::query("DELETE FROM documents WHERE kind = $1 AND key = $2")
                .bind(kind)
                .bind(key)
                .execute(&mut *connection)
                .await?;
        }
        Write::Enqueue(job) => {
            let result = sqlx::query(
                "INSERT INTO jobs (id, kind, labels, payload, enqueued_at, attempts) \
                 VALUES ($1, $2, $3, $4, $5, 0) ON CONFLICT (id) DO NOTHING",
            )
            .bind(&job.id)
            .bind(&job.kind)
            .bind(labels_json(&job.labels))
            .bind(job.payload.to_string())
            .bind(job.enqueued_at)
            .execute(&mut *connection)
            .await?;
            if result.rows_affected() == 0 {
                return Err(StoreError::AlreadyExists { kind: JOB_KIND.to_owned(), key: job.id });
            }
        }
        Write::CompleteJob { job_id } => {
            sqlx::query("DELETE FROM jobs WHERE id = $1")
                .bind(job_id)
                .execute(&mut *connection)
                .await?;
        }
        Write::ReleaseJob { job_id } => {
            sqlx::query("UPDATE jobs SET agent_id = NULL, lease_until = NULL WHERE id = $1")
                .bind(job_id)
                .execute(&mut *connection)
                .await?;
        }
    }
    Ok(())
}

async fn create_dir(path: &Path) -> Result<(), StoreError> {
    tokio::fs::create_dir_all(path).await.map_err(|err| {
        StoreError::Database(sqlx::Error::Configuration(
            format!("cannot create the database directory {}: {err}", path.display()).into(),
        ))
    })
}
