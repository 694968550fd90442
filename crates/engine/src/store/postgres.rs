//! The PostgreSQL backend of the store, shared by every server replica.
//!
//! Replicas coordinate only through the database (DESIGN.md): a batch is one transaction,
//! an `UPDATE … WHERE version = $n` waits for a concurrent writer of the same row and then
//! sees its new version (so optimistic concurrency holds across replicas), and `lease`
//! claims a job with `FOR UPDATE SKIP LOCKED`, so concurrent agents never wait on, or get,
//! the same job.
//!
//! Documents' bodies and jobs' payloads are `json`, not `jsonb`: the store never looks
//! inside them, `json` keeps the text as written, and `jsonb` would refuse `\u0000` in a
//! string, which SQLite accepts, making the backends differ. Job labels are `jsonb`, for the
//! containment operator `<@` that matches them. Keys, parents and streams sort with the "C"
//! collation, bytewise as in SQLite, whatever the database's locale.

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{AssertSqlSafe, PgConnection};

use super::{
    Cursor, Document, DocumentRow, JOB_KIND, JobRow, LOG_KIND, LeaseRequest, LeasedJob, ListQuery,
    LogChunk, POSTGRES_MIGRATIONS, QueuedJob, StoreError, Write, document_from_row, labels_json,
    leased_job_from_row, log_key, migrator, queued_job_from_row, redact,
};

/// Connections per replica; PostgreSQL's default limit is 100 for all replicas together.
const POOL_SIZE: u32 = 10;

#[derive(Clone)]
pub(super) struct PgStore {
    pool: PgPool,
}

const JOB_COLUMNS: &str = "jobs.id, jobs.kind, jobs.labels::text, jobs.payload::text, \
                           jobs.enqueued_at, jobs.agent_id, jobs.lease_until, jobs.attempts";

impl PgStore {
    pub(super) async fn connect(url: &str) -> Result<PgStore, StoreError> {
        let options = PgConnectOptions::from_str(url)
            .map_err(|err| StoreError::BadUrl(format!("{} ({err})", redact(url))))?;
        let pool = PgPoolOptions::new()
            .max_connections(POOL_SIZE)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options)
            .await?;
        migrator(POSTGRES_MIGRATIONS).run(&pool).await?;
        Ok(PgStore { pool })
    }

    /// For tests that look at the database behind the store's back.
    #[cfg(test)]
    pub(super) fn pool(&self) -> &PgPool {
        &self.pool
    }

    pub(super) async fn close(&self) {
        self.pool.close().await;
    }

    pub(super) async fn get(&self, kind: &str, key: &str) -> Result<Option<Document>, StoreError> {
        sqlx::query_as::<_, DocumentRow>(
            "SELECT kind, key, parent, sort, version, body::text FROM documents \
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
        sqlx::query_as::<_, DocumentRow>(
            "SELECT kind, key, parent, sort, version, body::text FROM documents \
             WHERE kind = $1 AND key = ANY($2)",
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
        let mut transaction = self.pool.begin().await?;
        for write in writes {
            if let Err(err) = apply_one(&mut transaction, write).await {
                // Rolled back now rather than when the connection is next used, so row locks
                // taken by the earlier writes are released at once.
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
        let mut transaction = self.pool.begin().await?;
        // SKIP LOCKED passes over jobs another agent is claiming right now; a row whose
        // claim committed meanwhile is re-checked against the WHERE clause and skipped too,
        // and the LIMIT then takes the next one. Label matching is `job labels <@ agent labels`.
        let row = sqlx::query_as::<_, JobRow>(AssertSqlSafe(format!(
            "UPDATE jobs SET agent_id = $1, lease_until = $2, attempts = jobs.attempts + 1 \
             FROM ( \
                 SELECT id FROM jobs \
                 WHERE kind = ANY($3) \
                   AND (lease_until IS NULL OR lease_until < $4) \
                   AND labels <@ $5::jsonb \
                 ORDER BY enqueued_at, id LIMIT 1 \
                 FOR UPDATE SKIP LOCKED) AS next \
             WHERE jobs.id = next.id \
             RETURNING {JOB_COLUMNS}"
        )))
        .bind(&request.agent_id)
        .bind(request.lease_until)
        .bind(&request.kinds)
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
        sqlx::query("DELETE FROM log_chunks WHERE stream = $1")
            .bind(stream)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

/// One write of a batch, inside the batch's transaction.
async fn apply_one(connection: &mut PgConnection, write: Write) -> Result<(), StoreError> {
    match write {
        Write::Insert(document) => {
            // ON CONFLICT DO NOTHING rather than catching the unique violation: an error
            // would abort the transaction, and a concurrent insert of the same key waits for
            // the other transaction and then reports the conflict cleanly.
            let result = sqlx::query(
                "INSERT INTO documents (kind, key, parent, sort, version, body) \
                 VALUES ($1, $2, $3, $4, 1, $5::json) ON CONFLICT (kind, key) DO NOTHING",
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
                "UPDATE documents SET parent = $3, sort = $4, body = $5::json, \
                 version = version + 1 WHERE kind = $1 AND key = $2 AND version = $6",
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
                 VALUES ($1, $2, $3, $4, 1, $5::json) ON CONFLICT (kind, key) DO UPDATE SET \
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
                 VALUES ($1, $2, $3::jsonb, $4::json, $5, 0) ON CONFLICT (id) DO NOTHING",
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
