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
use sqlx::{AssertSqlSafe, PgConnection, PgTransaction};

use super::{
    Cursor, Document, DocumentRow, JOB_KIND, JobRow, LOG_KIND, LeaseRequest, LeasedJob, ListQuery,
    LogChunk, POSTGRES_MIGRATIONS, QueuedJob, RawDocument, StoreError, Write, document_from_row,
    labels_json, leased_job_from_row, log_key, migrator, queued_job_from_row,
    raw_document_from_row, redact,
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

    /// Nothing: PostgreSQL orders concurrent writers itself (SQLite's store takes its writer
    /// lock here).
    async fn single_writer(&self) {}

    /// A transaction for a batch of writes (SQLite's store also takes its writer lock here).
    async fn begin_write(&self) -> Result<((), PgTransaction<'static>), StoreError> {
        Ok(((), self.pool.begin().await?))
    }

    pub(super) async fn get_many(
        &self,
        kind: &str,
        keys: &[String],
    ) -> Result<Vec<RawDocument>, StoreError> {
        sqlx::query_as::<_, DocumentRow>(
            "SELECT kind, key, parent, sort, version, body::text FROM documents \
             WHERE kind = $1 AND key = ANY($2)",
        )
        .bind(kind)
        .bind(keys)
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(raw_document_from_row)
        .collect()
    }

    super::shared::shared_writes!();
    super::shared::shared_reads!();

    /// The job `lease` would take, and its attempts so far, without taking it.
    pub(super) async fn lease_candidate(
        &self,
        request: &LeaseRequest,
    ) -> Result<Option<(QueuedJob, i64)>, StoreError> {
        let row = sqlx::query_as::<_, JobRow>(AssertSqlSafe(format!(
            "SELECT {JOB_COLUMNS} FROM jobs \
             WHERE kind = ANY($1) \
               AND (lease_until IS NULL OR lease_until < $2) \
               AND labels <@ $3::jsonb \
             ORDER BY enqueued_at, id LIMIT 1"
        )))
        .bind(&request.kinds)
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
}

// The statements `apply_one` runs (see `shared.rs`). Inserts use ON CONFLICT DO NOTHING rather
// than catching the unique violation: an error would abort the transaction, and a concurrent
// insert of the same key waits for the other transaction and then reports the conflict
// cleanly.
/// One row of a multi-row insert (`shared::insert_rows`), its five parameters after the
/// statement's first `at`, the body cast to `json`.
fn push_values_row(sql: &mut String, at: usize) {
    use std::fmt::Write as _;
    let _ =
        write!(sql, "(${}, ${}, ${}, ${}, 1, ${}::json)", at + 1, at + 2, at + 3, at + 4, at + 5);
}
/// The most documents one multi-row insert takes (5 parameters each, well under either
/// database's limit on parameters).
const INSERT_BATCH_ROWS: usize = 100;
const INSERT_DOCUMENT: &str = "\
    INSERT INTO documents (kind, key, parent, sort, version, body) \
    VALUES ($1, $2, $3, $4, 1, $5::json) ON CONFLICT (kind, key) DO NOTHING";
const UPDATE_DOCUMENT: &str = "\
    UPDATE documents SET parent = $3, sort = $4, body = $5::json, version = version + 1 \
    WHERE kind = $1 AND key = $2 AND version = $6";
const PUT_DOCUMENT: &str = "\
    INSERT INTO documents (kind, key, parent, sort, version, body) \
    VALUES ($1, $2, $3, $4, 1, $5::json) ON CONFLICT (kind, key) DO UPDATE SET \
    parent = excluded.parent, sort = excluded.sort, body = excluded.body, \
    version = documents.version + 1";
const ENQUEUE_JOB: &str = "\
    INSERT INTO jobs (id, kind, labels, payload, enqueued_at, attempts) \
    VALUES ($1, $2, $3::jsonb, $4::json, $5, 0) ON CONFLICT (id) DO NOTHING";

super::shared::apply_one!(PgConnection);
