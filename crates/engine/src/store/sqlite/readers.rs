//! The read path of a SQLite file database: a small pool of plain SQLite connections
//! (rusqlite, on the same bundled SQLite that sqlx links) that run each read on the calling
//! thread, without the hand-off to and from a connection's worker thread that every sqlx
//! SQLite query makes (two channel sends and two thread wake-ups per statement, which were
//! ~40 % of the server's CPU under `BatchGetBuilds` load, bench/RESULTS.md P8).
//!
//! Reads are short and bounded (a key, a page of at most `MAX_PAGE_SIZE` rows, a bounded run
//! of log chunks), and in WAL mode a reader never waits for the writer, so running them on a
//! runtime worker costs less than handing them to another thread would. Each read is one
//! autocommit statement on a connection of its own while it runs: it sees every transaction
//! that committed before it started (the writer's `COMMIT` has returned), so a caller reads
//! its own writes. Writes never come here; they stay on sqlx's pool under the writer lock.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};

use rusqlite::{Connection, OpenFlags, Row, params};

use super::super::{
    Cursor, Document, DocumentRow, JobRow, LeasedJob, ListQuery, LogChunk, QueuedJob, RawDocument,
    StoreError, document_from_row, leased_job_from_row, queued_job_from_row, raw_document_from_row,
};
use super::{BUSY_TIMEOUT, JOB_COLUMNS};

/// Idle connections kept for the next reads. Reads run on the calling thread, so no more than
/// one per thread that reads at once is ever open; more than this are closed after use.
const MAX_IDLE: usize = 8;

/// Prepared statements each connection keeps (listings have eight forms, plus the rest).
const STATEMENT_CACHE: usize = 32;

pub(super) struct Readers {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
    /// Set by [`Readers::close`]: reads fail from then on, as sqlx's do on a closed pool.
    closed: AtomicBool,
}

impl Readers {
    /// A pool for the database file at `path`, which must exist (the writer created it and
    /// ran the migrations). One connection is opened now, so a file that cannot be read fails
    /// here rather than at the first read.
    pub(super) fn open(path: &Path) -> Result<Readers, StoreError> {
        let readers = Readers {
            path: path.to_owned(),
            idle: Mutex::new(Vec::new()),
            closed: AtomicBool::new(false),
        };
        let first = readers.connect()?;
        readers.idle().push(first);
        Ok(readers)
    }

    pub(super) fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        self.idle().clear();
    }

    fn idle(&self) -> std::sync::MutexGuard<'_, Vec<Connection>> {
        // A panic while the list was locked cannot have left it half-changed (push and pop).
        self.idle.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn connect(&self) -> Result<Connection, StoreError> {
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_URI;
        let connection = Connection::open_with_flags(&self.path, flags)?;
        connection.busy_timeout(BUSY_TIMEOUT)?;
        connection.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        Ok(connection)
    }

    /// Runs `read` on an idle connection (or a new one), on this thread.
    fn with<T>(
        &self,
        read: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> Result<T, StoreError> {
        if self.closed.load(Ordering::SeqCst) {
            return Err(StoreError::Database(sqlx::Error::PoolClosed));
        }
        let connection = match self.idle().pop() {
            Some(connection) => connection,
            None => self.connect()?,
        };
        let result = read(&connection);
        if !self.closed.load(Ordering::SeqCst) {
            let mut idle = self.idle();
            if idle.len() < MAX_IDLE {
                idle.push(connection);
            }
        }
        Ok(result?)
    }

    pub(super) fn get(&self, kind: &str, key: &str) -> Result<Option<Document>, StoreError> {
        let row = self.with(|connection| {
            let mut statement = connection.prepare_cached(
                "SELECT kind, key, parent, sort, version, body FROM documents \
                 WHERE kind = ?1 AND key = ?2",
            )?;
            let mut rows = statement.query_map(params![kind, key], document_row)?;
            rows.next().transpose()
        })?;
        row.map(document_from_row).transpose()
    }

    pub(super) fn get_many(
        &self,
        kind: &str,
        keys: &[String],
    ) -> Result<Vec<RawDocument>, StoreError> {
        // The keys travel as one JSON array, so the statement is the same for any number. The
        // array drives the loop (CROSS JOIN keeps it outside), one primary-key lookup per key:
        // `key IN (SELECT …)` would first copy the keys into a temporary b-tree, which cost
        // more than the lookup itself. A key asked for twice comes back twice; the caller
        // keeps one.
        let keys = serde_json::Value::from(keys.to_vec()).to_string();
        self.with(|connection| {
            connection
                .prepare_cached(
                    "SELECT d.kind, d.key, d.parent, d.sort, d.version, d.body \
                     FROM json_each(?2) AS k CROSS JOIN documents AS d \
                     WHERE d.kind = ?1 AND d.key = k.value",
                )?
                .query_map(params![kind, keys], document_row)?
                .collect::<rusqlite::Result<Vec<_>>>()
        })?
        .into_iter()
        .map(raw_document_from_row)
        .collect()
    }

    /// Runs the listing statement built by `list_sql` (its `$n` placeholders are SQLite's
    /// `?n`, the n-th bound value).
    pub(super) fn list(
        &self,
        sql: &str,
        query: &ListQuery,
        after: Option<&Cursor>,
        limit: i64,
    ) -> Result<Vec<Document>, StoreError> {
        let sql = sql.replace('$', "?");
        let mut values: Vec<&dyn rusqlite::ToSql> = vec![&query.kind];
        if let Some(parent) = &query.parent {
            values.push(parent);
        }
        if let Some(after) = after {
            values.push(&after.sort);
            values.push(&after.key);
        }
        values.push(&limit);
        self.with(|connection| {
            connection
                .prepare_cached(&sql)?
                .query_map(values.as_slice(), document_row)?
                .collect::<rusqlite::Result<Vec<_>>>()
        })?
        .into_iter()
        .map(document_from_row)
        .collect()
    }

    pub(super) fn expired_leases(&self, now: i64) -> Result<Vec<LeasedJob>, StoreError> {
        self.with(|connection| {
            connection
                .prepare_cached(&format!(
                    "SELECT {JOB_COLUMNS} FROM jobs \
                     WHERE lease_until IS NOT NULL AND lease_until < ?1 ORDER BY lease_until, id"
                ))?
                .query_map(params![now], job_row)?
                .collect::<rusqlite::Result<Vec<_>>>()
        })?
        .into_iter()
        .map(leased_job_from_row)
        .collect()
    }

    pub(super) fn queued_jobs(&self) -> Result<Vec<QueuedJob>, StoreError> {
        self.with(|connection| {
            connection
                .prepare_cached(&format!(
                    "SELECT {JOB_COLUMNS} FROM jobs WHERE agent_id IS NULL \
                     ORDER BY enqueued_at, id"
                ))?
                .query_map([], job_row)?
                .collect::<rusqlite::Result<Vec<_>>>()
        })?
        .into_iter()
        .map(queued_job_from_row)
        .collect()
    }

    pub(super) fn read_log(
        &self,
        stream: &str,
        from_seq: i64,
        limit: i64,
    ) -> Result<Vec<LogChunk>, StoreError> {
        self.with(|connection| {
            connection
                .prepare_cached(
                    "SELECT seq, data FROM log_chunks WHERE stream = ?1 AND seq >= ?2 \
                     ORDER BY seq LIMIT ?3",
                )?
                .query_map(params![stream, from_seq, limit], |row| {
                    Ok(LogChunk { seq: row.get(0)?, data: row.get(1)? })
                })?
                .collect()
        })
    }
}

fn document_row(row: &Row<'_>) -> rusqlite::Result<DocumentRow> {
    Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?, row.get(4)?, row.get(5)?))
}

fn job_row(row: &Row<'_>) -> rusqlite::Result<JobRow> {
    Ok((
        row.get(0)?,
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        row.get(4)?,
        row.get(5)?,
        row.get(6)?,
        row.get(7)?,
    ))
}
