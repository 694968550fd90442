//! The store: documents, counters, the job queue and log chunks in SQLite or PostgreSQL.
//!
//! It is deliberately small and generic, so that every later feature (projects, builds,
//! pipelines, users, …) reuses it instead of adding tables:
//!
//! - **Documents** are the JSON bodies of aggregates, addressed by `(kind, key)`, with an
//!   optional `parent` and a `sort` number for listing, and a `version` for optimistic
//!   concurrency.
//! - **Counters** hand out numbers that are never reused (build numbers).
//! - **The job queue** holds work for agents, who lease it for a while and renew the lease
//!   while they work; a lost agent is noticed when its lease expires.
//! - **Log chunks** are the append-only, numbered pieces of a stream (a build's log).
//!
//! [`Store::apply`] is the only way to write documents and the queue, and it writes a whole
//! batch in one transaction, so that every state transition is one transaction (DESIGN.md).
//!
//! Both backends implement exactly the same behaviour, checked by one conformance suite
//! (`store/tests.rs`). Times are epoch milliseconds passed in by the caller: the store never
//! reads the clock. The SQL lives in the two backend modules, and in `store/shared.rs` the
//! methods whose statements are the same on both (expanded into each backend by macros, as
//! their pool types differ); what they share otherwise (cursors, row decoding, label
//! matching, the migration lists) lives here.

mod postgres;
mod shared;
pub mod snapshot;
mod sqlite;
#[cfg(test)]
mod tests;

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use sqlx::SqlSafeStr;
use sqlx::migrate::{Migration, MigrationType, Migrator};

/// A handle on the store. Cheap to clone: clones share one connection pool.
#[derive(Clone)]
pub struct Store {
    inner: Inner,
    /// The change counters handed out by [`Store::watch`], shared by every clone.
    watched: Arc<RwLock<Vec<Changes>>>,
}

/// How many committed batches of this process wrote a document of one kind: what a cache of
/// that kind compares, before it trusts an entry, with the number it saw when it read the
/// entry from the store. Only this process's writes count; a cache that other replicas'
/// writes must reach also gives its entries an age limit.
#[derive(Debug, Clone)]
pub struct Changes {
    kind: Arc<str>,
    count: Arc<AtomicU64>,
}

impl Changes {
    /// The number now. Read it before reading the store, so that a write committed while the
    /// read runs makes the entry stale rather than leaving stale data looking current.
    pub fn current(&self) -> u64 {
        self.count.load(Ordering::Acquire)
    }
}

#[derive(Clone)]
enum Inner {
    Sqlite(sqlite::SqliteStore),
    Postgres(postgres::PgStore),
}

/// Which database a [`Store`] keeps its state in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// One stored document: the JSON body of an aggregate and what the store needs to find it.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    pub kind: String,
    pub key: String,
    /// The owner a listing can filter on (a build's project, say).
    pub parent: Option<String>,
    /// Listings are ordered by `(sort, key)` (a build's start time or number, say).
    pub sort: i64,
    /// Set by the store: 1 when inserted, +1 on every update. Ignored on writes; an
    /// [`Write::Update`] states the version it expects instead.
    pub version: i64,
    pub body: serde_json::Value,
}

/// A stored document whose body is still its JSON text (checked to be JSON, not parsed into
/// a tree): for reads that hand bodies on as they are, such as `BatchGetBuilds`, where
/// building and dropping a `serde_json::Value` per answer was most of the request's work.
#[derive(Debug, Clone)]
pub struct RawDocument {
    pub kind: String,
    pub key: String,
    pub parent: Option<String>,
    pub sort: i64,
    pub version: i64,
    pub body: Box<serde_json::value::RawValue>,
}

impl RawDocument {
    /// The document with its body parsed.
    pub fn parse(&self) -> Result<Document, StoreError> {
        Ok(Document {
            kind: self.kind.clone(),
            key: self.key.clone(),
            parent: self.parent.clone(),
            sort: self.sort,
            version: self.version,
            body: parse_json(self.body.get())?,
        })
    }
}

/// One write of an [`Store::apply`] batch.
#[derive(Debug, Clone)]
pub enum Write {
    /// Fails with [`StoreError::AlreadyExists`] if `(kind, key)` exists. The version becomes 1.
    Insert(Document),
    /// Inserts `document` numbered by the counter `counter`, in the same transaction: its
    /// `sort` becomes the counter's next value and the number, zero-padded to 12 digits, is
    /// appended to its `key`. Unlike [`Store::next_counter`] followed by an insert, numbers of
    /// one counter become visible in the order they were taken, across processes and replicas,
    /// so a reader that remembers the last number it saw never skips one.
    InsertNumbered { counter: String, document: Document },
    /// [`Write::InsertNumbered`] for many documents of one counter, numbered in their order:
    /// one counter update and a few multi-row inserts instead of two statements per document
    /// (what the audit trail writes, a thousand events at a time). The bodies come as JSON
    /// text, written as they are: the trail serializes each event once, where it is recorded,
    /// and the batch only binds the texts.
    InsertNumberedBatch { counter: String, documents: Vec<RawDocument> },
    /// Fails with [`StoreError::Conflict`] if the stored version is not `expected_version`,
    /// [`StoreError::NotFound`] if there is no such document. The stored version becomes
    /// `expected_version + 1`.
    Update { document: Document, expected_version: i64 },
    /// Inserts, or replaces whatever is there (its version is bumped).
    Put(Document),
    /// Removes the document; no error when it is absent.
    Delete { kind: String, key: String },
    /// Adds a job to the queue; [`StoreError::AlreadyExists`] (kind `"job"`) if the id is taken.
    Enqueue(QueuedJob),
    /// Removes the job, leased or not; no error when it is absent, so a retried completion
    /// is harmless.
    CompleteJob { job_id: String },
    /// Clears the job's lease so that another agent can take it (its `attempts` stay).
    ReleaseJob { job_id: String },
    /// Leases the job to `agent_id` until `lease_until`, counting the attempt, if it is free
    /// (never leased, or its lease ended before `now`): what [`Store::lease`] does to the job
    /// it picks, but inside a batch, so the lease commits together with what it causes (the
    /// build's record, its token). [`StoreError::Conflict`] (kind `"job"`) when it is not
    /// free, [`StoreError::NotFound`] when it is gone. [`Store::lease_candidate`] says which
    /// job to name.
    LeaseJob { job_id: String, agent_id: String, now: i64, lease_until: i64 },
    /// Extends the lease `agent_id` holds on the job, as [`Store::renew`] does, inside a batch;
    /// [`StoreError::Conflict`] (kind `"job"`) when the job is gone or leased by someone else.
    RenewLease { job_id: String, agent_id: String, lease_until: i64 },
    /// Stores chunk `seq` of `stream`, as [`Store::append_log`] does, inside a batch;
    /// [`StoreError::AlreadyExists`] when the chunk is there.
    AppendLog { stream: String, seq: i64, data: Vec<u8> },
    /// Removes every chunk of `stream`, as [`Store::delete_log`] does, inside a batch.
    DeleteLog { stream: String },
    /// Removes every document of `kind` whose parent is `parent` (a build's tokens, say); no
    /// error when there are none.
    DeleteChildren { kind: String, parent: String },
}

/// Counts a change of each of its kinds when dropped.
struct CountWhenDropped(Vec<Changes>);

impl Drop for CountWhenDropped {
    fn drop(&mut self) {
        for changes in &self.0 {
            changes.count.fetch_add(1, Ordering::AcqRel);
        }
    }
}

impl Write {
    /// The kind of the document this write changes, if it changes documents.
    fn document_kind(&self) -> Option<&str> {
        match self {
            Write::Insert(document)
            | Write::InsertNumbered { document, .. }
            | Write::Update { document, .. }
            | Write::Put(document) => Some(&document.kind),
            Write::InsertNumberedBatch { documents, .. } => {
                documents.first().map(|document| document.kind.as_str())
            }
            Write::Delete { kind, .. } | Write::DeleteChildren { kind, .. } => Some(kind),
            Write::Enqueue(_)
            | Write::CompleteJob { .. }
            | Write::ReleaseJob { .. }
            | Write::LeaseJob { .. }
            | Write::RenewLease { .. }
            | Write::AppendLog { .. }
            | Write::DeleteLog { .. } => None,
        }
    }
}

/// One page of documents of a kind, ordered by `(sort, key)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListQuery {
    pub kind: String,
    /// Only the documents with this parent; `None` lists every document of the kind.
    pub parent: Option<String>,
    pub descending: bool,
    /// The `next` of the previous [`Page`], to continue from there.
    pub after: Option<String>,
    /// At most this many documents; clamped to `1..=`[`MAX_PAGE_SIZE`].
    pub limit: i64,
}

/// The largest page [`Store::list`] returns, whatever the query asks for.
pub const MAX_PAGE_SIZE: i64 = 1000;

/// A page of a listing. `next` is present only when more documents follow; it is opaque.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    pub documents: Vec<Document>,
    pub next: Option<String>,
}

/// A unit of work waiting for an agent.
#[derive(Debug, Clone, PartialEq)]
pub struct QueuedJob {
    pub id: String,
    /// What sort of work it is (a build, a deployment hook, …); agents say which kinds they take.
    pub kind: String,
    /// What the job requires of an agent: each label must be present, with the same value,
    /// among the agent's labels.
    pub labels: BTreeMap<String, String>,
    pub payload: serde_json::Value,
    /// Epoch milliseconds; older jobs are leased first.
    pub enqueued_at: i64,
}

/// An agent asking for work.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseRequest {
    pub agent_id: String,
    /// What the agent offers; it may have more labels than a job requires.
    pub labels: BTreeMap<String, String>,
    /// The job kinds the agent takes.
    pub kinds: Vec<String>,
    /// Epoch milliseconds: leases that ended before this are free to take.
    pub now: i64,
    /// Epoch milliseconds: when the new lease ends unless renewed.
    pub lease_until: i64,
}

/// A job and who holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct LeasedJob {
    pub job: QueuedJob,
    pub agent_id: String,
    pub lease_until: i64,
    /// How many times the job has been leased, this lease included.
    pub attempts: i64,
}

/// One numbered piece of a log stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogChunk {
    pub seq: i64,
    pub data: Vec<u8>,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{kind} {key:?} already exists")]
    AlreadyExists { kind: String, key: String },
    #[error("{kind} {key:?} does not exist")]
    NotFound { kind: String, key: String },
    #[error("{kind} {key:?} was changed by someone else (its version is not the expected one)")]
    Conflict { kind: String, key: String },
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// From the SQLite store's read path, which does not go through sqlx.
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("cannot migrate the database: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("unsupported database URL {0}: use sqlite:PATH, sqlite::memory: or postgres://…")]
    BadUrl(String),
    #[error("invalid pagination cursor")]
    BadCursor,
}

/// The kind named in errors about jobs (the queue is not a document kind, but errors about it
/// have the same shape).
const JOB_KIND: &str = "job";
/// The kind named in errors about log chunks; the key is `stream/seq`.
const LOG_KIND: &str = "log chunk";

impl Store {
    /// Opens the store at `url` and brings its schema up to date.
    ///
    /// - `sqlite:PATH` (or `sqlite://PATH`): the file is created if missing, with its parent
    ///   directory; WAL mode, `synchronous=NORMAL`, a 5 s busy timeout and foreign keys.
    /// - `sqlite::memory:`: a private in-memory database that lives as long as this store
    ///   (for tests and throwaway runs).
    /// - `postgres://…` (or `postgresql://…`).
    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        let inner = if url.starts_with("sqlite:") {
            Inner::Sqlite(sqlite::SqliteStore::connect(url).await?)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Inner::Postgres(postgres::PgStore::connect(url).await?)
        } else {
            return Err(StoreError::BadUrl(redact(url)));
        };
        Ok(Store { inner, watched: Arc::default() })
    }

    /// The counter of committed writes of documents of `kind` (one per kind, however often
    /// it is asked for): see [`Changes`].
    pub fn watch(&self, kind: &str) -> Changes {
        let mut watched = self.watched.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(changes) = watched.iter().find(|it| &*it.kind == kind) {
            return changes.clone();
        }
        let changes = Changes { kind: kind.into(), count: Arc::default() };
        watched.push(changes.clone());
        changes
    }

    /// The watched kinds' counters that `writes` change.
    fn watched_by(&self, writes: &[Write]) -> Vec<Changes> {
        let watched = self.watched.read().unwrap_or_else(|poisoned| poisoned.into_inner());
        watched
            .iter()
            .filter(|it| writes.iter().any(|write| write.document_kind() == Some(&*it.kind)))
            .cloned()
            .collect()
    }

    pub fn backend(&self) -> Backend {
        match &self.inner {
            Inner::Sqlite(_) => Backend::Sqlite,
            Inner::Postgres(_) => Backend::Postgres,
        }
    }

    /// Closes every connection; calls made afterwards fail.
    pub async fn close(&self) {
        match &self.inner {
            Inner::Sqlite(store) => store.close().await,
            Inner::Postgres(store) => store.close().await,
        }
    }

    pub async fn get(&self, kind: &str, key: &str) -> Result<Option<Document>, StoreError> {
        match &self.inner {
            Inner::Sqlite(store) => store.get(kind, key).await,
            Inner::Postgres(store) => store.get(kind, key).await,
        }
    }

    /// The documents of `keys` that exist, in the order of `keys`.
    pub async fn get_many(&self, kind: &str, keys: &[String]) -> Result<Vec<Document>, StoreError> {
        let raw = self.get_many_raw(kind, keys).await?;
        raw.iter().map(RawDocument::parse).collect()
    }

    /// [`Store::get_many`] with the bodies as their JSON text.
    pub async fn get_many_raw(
        &self,
        kind: &str,
        keys: &[String],
    ) -> Result<Vec<RawDocument>, StoreError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let found = match &self.inner {
            Inner::Sqlite(store) => store.get_many(kind, keys).await?,
            Inner::Postgres(store) => store.get_many(kind, keys).await?,
        };
        let mut by_key: BTreeMap<String, RawDocument> =
            found.into_iter().map(|document| (document.key.clone(), document)).collect();
        // A key asked for twice is returned twice: the caller's order is the contract. Each
        // document moves out at the last time its key is asked for, so a document is copied
        // only for a repeated key.
        let mut asked: BTreeMap<&str, usize> = BTreeMap::new();
        for key in keys {
            *asked.entry(key.as_str()).or_default() += 1;
        }
        Ok(keys
            .iter()
            .filter_map(|key| {
                let left = asked.get_mut(key.as_str())?;
                *left -= 1;
                if *left == 0 { by_key.remove(key) } else { by_key.get(key).cloned() }
            })
            .collect())
    }

    /// One page of the documents of a kind (and parent), ordered by `(sort, key)`.
    pub async fn list(&self, query: &ListQuery) -> Result<Page, StoreError> {
        let after = query.after.as_deref().map(decode_cursor).transpose()?;
        let limit = query.limit.clamp(1, MAX_PAGE_SIZE);
        let sql = list_sql(query.parent.is_some(), after.is_some(), query.descending);
        // One more than asked for tells whether another page follows.
        let mut documents = match &self.inner {
            Inner::Sqlite(store) => store.list(&sql, query, after.as_ref(), limit + 1).await?,
            Inner::Postgres(store) => store.list(&sql, query, after.as_ref(), limit + 1).await?,
        };
        let next = if documents.len() > usize::try_from(limit).unwrap_or(usize::MAX) {
            documents.pop();
            documents.last().map(|last| encode_cursor(last.sort, &last.key))
        } else {
            None
        };
        Ok(Page { documents, next })
    }

    /// Every document of a kind (and parent), ordered by `(sort, key)`, however many pages
    /// that takes. For listings whose size the caller bounds (a user's credentials, a
    /// repository's pull requests), not for unbounded histories.
    pub async fn list_all(
        &self,
        kind: &str,
        parent: Option<&str>,
    ) -> Result<Vec<Document>, StoreError> {
        self.list_all_after(kind, parent, None).await
    }

    /// [`Store::list_all`] from a cursor on ([`cursor_after`], or a [`Page::next`]): what a
    /// reader that remembers where it was has not seen yet.
    pub async fn list_all_after(
        &self,
        kind: &str,
        parent: Option<&str>,
        mut after: Option<String>,
    ) -> Result<Vec<Document>, StoreError> {
        let mut documents = Vec::new();
        loop {
            let query = ListQuery {
                kind: kind.to_owned(),
                parent: parent.map(str::to_owned),
                descending: false,
                after,
                limit: MAX_PAGE_SIZE,
            };
            let page = self.list(&query).await?;
            documents.extend(page.documents);
            match page.next {
                Some(next) => after = Some(next),
                None => return Ok(documents),
            }
        }
    }

    /// The next value of the counter `name`: 1 the first time, then 2, 3, …, atomically, so
    /// no two callers ever get the same number.
    pub async fn next_counter(&self, name: &str) -> Result<i64, StoreError> {
        match &self.inner {
            Inner::Sqlite(store) => store.next_counter(name).await,
            Inner::Postgres(store) => store.next_counter(name).await,
        }
    }

    /// Applies every write in one transaction: all of them, or (on the first error, which is
    /// returned) none.
    pub async fn apply(&self, writes: Vec<Write>) -> Result<(), StoreError> {
        if writes.is_empty() {
            return Ok(());
        }
        // Counted once the batch is done, committed or not, and also when the caller stops
        // waiting for it (the guard counts when dropped): an entry read while it committed
        // carries the count from before, which this makes stale.
        let _count_when_done = CountWhenDropped(self.watched_by(&writes));
        match &self.inner {
            Inner::Sqlite(store) => store.apply(writes).await,
            Inner::Postgres(store) => store.apply(writes).await,
        }
    }

    /// Leases the oldest job the agent may take, if any: one of `kinds`, not leased (or its
    /// lease ended before `now`), and whose labels the agent's labels all match
    /// ([`labels_match`]). Each job goes to exactly one agent, however many ask at once.
    pub async fn lease(&self, request: &LeaseRequest) -> Result<Option<LeasedJob>, StoreError> {
        if request.kinds.is_empty() {
            return Ok(None);
        }
        match &self.inner {
            Inner::Sqlite(store) => store.lease(request).await,
            Inner::Postgres(store) => store.lease(request).await,
        }
    }

    /// The job [`Store::lease`] would lease for `request` now, as it would be once leased
    /// (`attempts` counts that lease), without leasing it: a batch then leases it with
    /// [`Write::LeaseJob`] together with the writes it causes. Another agent may take it
    /// first, which that write reports as a conflict.
    pub async fn lease_candidate(
        &self,
        request: &LeaseRequest,
    ) -> Result<Option<LeasedJob>, StoreError> {
        if request.kinds.is_empty() {
            return Ok(None);
        }
        let row = match &self.inner {
            Inner::Sqlite(store) => store.lease_candidate(request).await?,
            Inner::Postgres(store) => store.lease_candidate(request).await?,
        };
        row.map(|(job, attempts)| {
            Ok(LeasedJob {
                job,
                agent_id: request.agent_id.clone(),
                lease_until: request.lease_until,
                attempts: attempts + 1,
            })
        })
        .transpose()
    }

    /// Extends the lease `agent_id` holds on `job_id`; `false` when the job is gone or leased
    /// by someone else (the agent should then stop working on it).
    pub async fn renew(
        &self,
        job_id: &str,
        agent_id: &str,
        lease_until: i64,
    ) -> Result<bool, StoreError> {
        match &self.inner {
            Inner::Sqlite(store) => store.renew(job_id, agent_id, lease_until).await,
            Inner::Postgres(store) => store.renew(job_id, agent_id, lease_until).await,
        }
    }

    /// The leases that ended before `now`, oldest end first. They stay as they are: the
    /// caller decides (release, fail the build, …) and writes that with [`Store::apply`].
    pub async fn expired_leases(&self, now: i64) -> Result<Vec<LeasedJob>, StoreError> {
        match &self.inner {
            Inner::Sqlite(store) => store.expired_leases(now).await,
            Inner::Postgres(store) => store.expired_leases(now).await,
        }
    }

    /// The jobs nobody holds a lease on, oldest first (for "why is it waiting" and the
    /// console; [`labels_match`] tells which agents could take each).
    pub async fn queued_jobs(&self) -> Result<Vec<QueuedJob>, StoreError> {
        match &self.inner {
            Inner::Sqlite(store) => store.queued_jobs().await,
            Inner::Postgres(store) => store.queued_jobs().await,
        }
    }

    /// Stores chunk `seq` of `stream`. The same `(stream, seq)` twice fails with
    /// [`StoreError::AlreadyExists`], so that a retried upload is detected.
    pub async fn append_log(&self, stream: &str, seq: i64, data: &[u8]) -> Result<(), StoreError> {
        match &self.inner {
            Inner::Sqlite(store) => store.append_log(stream, seq, data).await,
            Inner::Postgres(store) => store.append_log(stream, seq, data).await,
        }
    }

    /// Up to `limit` chunks of `stream` from `from_seq` on, in order.
    pub async fn read_log(
        &self,
        stream: &str,
        from_seq: i64,
        limit: i64,
    ) -> Result<Vec<LogChunk>, StoreError> {
        if limit <= 0 {
            return Ok(Vec::new());
        }
        match &self.inner {
            Inner::Sqlite(store) => store.read_log(stream, from_seq, limit).await,
            Inner::Postgres(store) => store.read_log(stream, from_seq, limit).await,
        }
    }

    /// Removes every chunk of `stream`.
    pub async fn delete_log(&self, stream: &str) -> Result<(), StoreError> {
        match &self.inner {
            Inner::Sqlite(store) => store.delete_log(stream).await,
            Inner::Postgres(store) => store.delete_log(stream).await,
        }
    }
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store").field("backend", &self.backend()).finish_non_exhaustive()
    }
}

/// Whether an agent offering `offered` may take a job requiring `required`: every required
/// label is offered with the same value (the agent may offer more). Both backends match
/// labels in SQL (so no matching job is ever starved behind non-matching ones); this is the
/// same rule in Rust, for explaining why a job waits.
pub fn labels_match(
    required: &BTreeMap<String, String>,
    offered: &BTreeMap<String, String>,
) -> bool {
    required.iter().all(|(name, value)| offered.get(name) == Some(value))
}

/// The migrations of each backend, embedded in the binary. `sqlx::migrate!` would do the
/// same but needs sqlx's `macros` feature, whose proc-macro compiles sqlx and both drivers a
/// second time; a test checks that this list and the `migrations/` folders agree.
const SQLITE_MIGRATIONS: &[(i64, &str, &str)] =
    &[(1, "initial", include_str!("../migrations/sqlite/0001_initial.sql"))];
const POSTGRES_MIGRATIONS: &[(i64, &str, &str)] =
    &[(1, "initial", include_str!("../migrations/postgres/0001_initial.sql"))];

/// A migrator for one backend's list. Descriptions and checksums are what `sqlx::migrate!`
/// derives from the file names and contents, so the two ways are interchangeable.
fn migrator(migrations: &'static [(i64, &'static str, &'static str)]) -> Migrator {
    Migrator::with_migrations(
        migrations
            .iter()
            .map(|&(version, description, sql)| {
                Migration::new(
                    version,
                    Cow::Borrowed(description),
                    MigrationType::Simple,
                    sql.into_sql_str(),
                    false,
                )
            })
            .collect(),
    )
}

/// The columns every document query selects, in the order of [`DocumentRow`].
type DocumentRow = (String, String, Option<String>, i64, i64, String);

fn document_from_row(
    (kind, key, parent, sort, version, body): DocumentRow,
) -> Result<Document, StoreError> {
    Ok(Document { kind, key, parent, sort, version, body: parse_json(&body)? })
}

fn raw_document_from_row(
    (kind, key, parent, sort, version, body): DocumentRow,
) -> Result<RawDocument, StoreError> {
    let body = serde_json::value::RawValue::from_string(body).map_err(corrupt)?;
    Ok(RawDocument { kind, key, parent, sort, version, body })
}

/// The columns every job query selects: id, kind, labels, payload, enqueued_at, agent_id,
/// lease_until, attempts.
type JobRow = (String, String, String, String, i64, Option<String>, Option<i64>, i64);

fn queued_job_from_row(row: JobRow) -> Result<QueuedJob, StoreError> {
    let (id, kind, labels, payload, enqueued_at, ..) = row;
    let labels: BTreeMap<String, String> = serde_json::from_str(&labels).map_err(corrupt)?;
    Ok(QueuedJob { id, kind, labels, payload: parse_json(&payload)?, enqueued_at })
}

fn leased_job_from_row(row: JobRow) -> Result<LeasedJob, StoreError> {
    let (agent_id, lease_until, attempts) = (row.5.clone(), row.6, row.7);
    let job = queued_job_from_row(row)?;
    match (agent_id, lease_until) {
        (Some(agent_id), Some(lease_until)) => {
            Ok(LeasedJob { job, agent_id, lease_until, attempts })
        }
        // The queries select only leased rows; anything else means the table is damaged.
        _ => Err(corrupt(format!("job {:?} has no complete lease", job.id))),
    }
}

fn parse_json(text: &str) -> Result<serde_json::Value, StoreError> {
    serde_json::from_str(text).map_err(corrupt)
}

/// A stored value the store cannot read back: reported as sqlx reports undecodable columns.
fn corrupt(error: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> StoreError {
    StoreError::Database(sqlx::Error::Decode(error.into()))
}

fn labels_json(labels: &BTreeMap<String, String>) -> String {
    serde_json::Value::Object(
        labels.iter().map(|(name, value)| (name.clone(), value.clone().into())).collect(),
    )
    .to_string()
}

fn log_key(stream: &str, seq: i64) -> String {
    format!("{stream}/{seq}")
}

/// The position a listing continues after.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Cursor {
    sort: i64,
    key: String,
}

/// The key [`Write::InsertNumbered`] gives a document: its key, then the number zero-padded to
/// 12 digits, so that keys sort as the numbers do.
pub fn numbered_key(prefix: &str, number: i64) -> String {
    format!("{prefix}{number:012}")
}

/// A [`ListQuery::after`] cursor that lists what comes after the document `(sort, key)`, for
/// a reader that remembers where it was rather than a [`Page::next`].
pub fn cursor_after(sort: i64, key: &str) -> String {
    encode_cursor(sort, key)
}

/// Cursors are `sort:key` in hex: opaque to clients (they travel as AWS `nextToken`s) and
/// safe in URLs.
fn encode_cursor(sort: i64, key: &str) -> String {
    hex::encode(format!("{sort}:{key}"))
}

fn decode_cursor(cursor: &str) -> Result<Cursor, StoreError> {
    let bytes = hex::decode(cursor).map_err(|_| StoreError::BadCursor)?;
    let plain = String::from_utf8(bytes).map_err(|_| StoreError::BadCursor)?;
    let (sort, key) = plain.split_once(':').ok_or(StoreError::BadCursor)?;
    let sort = sort.parse().map_err(|_| StoreError::BadCursor)?;
    Ok(Cursor { sort, key: key.to_owned() })
}

/// The listing query, in the `$n` placeholders both backends accept. Parameters, in order:
/// kind, then parent (if filtered), then the cursor's sort and key (if any), then the limit.
/// Built from fixed pieces only, so it is safe to hand to sqlx as a dynamic string.
fn list_sql(by_parent: bool, after: bool, descending: bool) -> String {
    let mut sql = String::from(
        "SELECT kind, key, parent, sort, version, CAST(body AS TEXT) FROM documents \
         WHERE kind = $1",
    );
    let mut next = 2;
    if by_parent {
        sql.push_str(&format!(" AND parent = ${next}"));
        next += 1;
    }
    let (direction, beyond) = if descending { ("DESC", "<") } else { ("ASC", ">") };
    if after {
        sql.push_str(&format!(" AND (sort, key) {beyond} (${next}, ${})", next + 1));
        next += 2;
    }
    sql.push_str(&format!(" ORDER BY sort {direction}, key {direction} LIMIT ${next}"));
    sql
}

/// A URL for error messages, without its password.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            match userinfo.split_once(':') {
                Some((user, _password)) => {
                    format!("{}{user}:***{}", &url[..scheme_end + 3], &url[at..])
                }
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}
