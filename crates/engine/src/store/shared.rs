//! What the two backends do with the same Rust: written once here as macros and expanded
//! into `sqlite.rs` and `postgres.rs`, whose pool and connection types differ. (sqlx's generic
//! bounds for code over any database are longer than the code itself.)
//!
//! Names in the expanded code resolve where the macro is used: each backend defines its
//! `JOB_COLUMNS`, `single_writer`, `begin_write` (for [`shared_writes`]) and, for [`apply_one`], the four statements
//! whose SQL differs between the databases (`INSERT_DOCUMENT`, `UPDATE_DOCUMENT`,
//! `PUT_DOCUMENT`, `ENQUEUE_JOB`: PostgreSQL casts the JSON text to `json`/`jsonb`, SQLite
//! stores it as it is).

/// The writes whose statements are the same text on both databases, for an `impl` of a store
/// with a `pool` field and `single_writer` and `begin_write` methods (SQLite's writer lock, and
/// a transaction that takes SQLite's write lock up front; on PostgreSQL, which orders
/// concurrent writers itself, no lock and a plain transaction).
macro_rules! shared_writes {
    () => {
        pub(super) async fn apply(&self, writes: Vec<Write>) -> Result<(), StoreError> {
            let (_writer, mut transaction) = self.begin_write().await?;
            for write in writes {
                if let Err(err) = apply_one(&mut transaction, write).await {
                    // Rolled back now, not when the connection is next used, so that what the
                    // earlier writes locked (PostgreSQL's rows, SQLite's database) is free at
                    // once, before SQLite's writer lock is.
                    let _ = transaction.rollback().await;
                    return Err(err);
                }
            }
            transaction.commit().await?;
            Ok(())
        }

        pub(super) async fn next_counter(&self, name: &str) -> Result<i64, StoreError> {
            let _writer = self.single_writer().await;
            // One statement, so it is its own transaction (on SQLite it takes the write lock up
            // front).
            let value = sqlx::query_scalar::<_, i64>(
                "INSERT INTO counters (name, value) VALUES ($1, 1) \
                 ON CONFLICT (name) DO UPDATE SET value = counters.value + 1 RETURNING value",
            )
            .bind(name)
            .fetch_one(&self.pool)
            .await?;
            Ok(value)
        }

        pub(super) async fn renew(
            &self,
            job_id: &str,
            agent_id: &str,
            lease_until: i64,
        ) -> Result<bool, StoreError> {
            let _writer = self.single_writer().await;
            let result =
                sqlx::query("UPDATE jobs SET lease_until = $3 WHERE id = $1 AND agent_id = $2")
                    .bind(job_id)
                    .bind(agent_id)
                    .bind(lease_until)
                    .execute(&self.pool)
                    .await?;
            Ok(result.rows_affected() == 1)
        }

        pub(super) async fn append_log(
            &self,
            stream: &str,
            seq: i64,
            data: &[u8],
        ) -> Result<(), StoreError> {
            let _writer = self.single_writer().await;
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

        pub(super) async fn delete_log(&self, stream: &str) -> Result<(), StoreError> {
            let _writer = self.single_writer().await;
            sqlx::query("DELETE FROM log_chunks WHERE stream = $1")
                .bind(stream)
                .execute(&self.pool)
                .await?;
            Ok(())
        }

    };
}

/// The reads through sqlx, the same text on both databases, for an `impl` of a type with a
/// `pool` field: PostgreSQL's only read path, and SQLite's for an in-memory database (whose
/// one connection is sqlx's; a file database is read through `sqlite/readers.rs`).
macro_rules! shared_reads {
    () => {
        pub(super) async fn get(
            &self,
            kind: &str,
            key: &str,
        ) -> Result<Option<Document>, StoreError> {
            sqlx::query_as::<_, DocumentRow>(
                "SELECT kind, key, parent, sort, version, CAST(body AS TEXT) FROM documents \
                 WHERE kind = $1 AND key = $2",
            )
            .bind(kind)
            .bind(key)
            .fetch_optional(&self.pool)
            .await?
            .map(document_from_row)
            .transpose()
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
    };
}

/// `apply_one` (one write of a batch, inside the batch's transaction) and its `insert`, on a
/// connection of the given type.
macro_rules! apply_one {
    ($connection:ty) => {
        /// Inserts a document; [`StoreError::AlreadyExists`] when its key is taken.
        async fn insert(
            connection: &mut $connection,
            document: Document,
        ) -> Result<(), StoreError> {
            let result = sqlx::query(INSERT_DOCUMENT)
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
            Ok(())
        }

        /// Inserts `rows` with one statement (their keys must be new: the first taken one is
        /// the [`StoreError::AlreadyExists`]).
        async fn insert_rows(
            connection: &mut $connection,
            rows: &[RawDocument],
        ) -> Result<(), StoreError> {
            let mut sql = String::from(
                "INSERT INTO documents (kind, key, parent, sort, version, body) VALUES ",
            );
            for index in 0..rows.len() {
                if index > 0 {
                    sql.push_str(", ");
                }
                push_values_row(&mut sql, index * 5);
            }
            sql.push_str(" ON CONFLICT (kind, key) DO NOTHING");
            let mut query = sqlx::query(AssertSqlSafe(sql));
            for row in rows {
                query = query
                    .bind(&row.kind)
                    .bind(&row.key)
                    .bind(&row.parent)
                    .bind(row.sort)
                    .bind(row.body.get());
            }
            let inserted = query.execute(&mut *connection).await?.rows_affected();
            if inserted != rows.len() as u64 {
                let first = &rows[0];
                return Err(StoreError::AlreadyExists {
                    kind: first.kind.clone(),
                    key: first.key.clone(),
                });
            }
            Ok(())
        }

        /// Why [`Write::LeaseJob`] leased nothing: the job is gone, or someone holds it.
        async fn job_missing_or_taken(
            connection: &mut $connection,
            job_id: String,
        ) -> Result<StoreError, StoreError> {
            let exists = sqlx::query("SELECT 1 FROM jobs WHERE id = $1")
                .bind(&job_id)
                .fetch_optional(&mut *connection)
                .await?
                .is_some();
            let kind = JOB_KIND.to_owned();
            Ok(if exists {
                StoreError::Conflict { kind, key: job_id }
            } else {
                StoreError::NotFound { kind, key: job_id }
            })
        }

        /// One write of a batch, inside the batch's transaction.
        async fn apply_one(connection: &mut $connection, write: Write) -> Result<(), StoreError> {
            match write {
                Write::InsertNumbered { counter, mut document } => {
                    // The counter's row stays locked (PostgreSQL) or the database does
                    // (SQLite's single writer) until this transaction commits, so numbers of
                    // one counter become visible in the order they were taken.
                    let number = sqlx::query_scalar::<_, i64>(
                        "INSERT INTO counters (name, value) VALUES ($1, 1) ON CONFLICT (name) \
                         DO UPDATE SET value = counters.value + 1 RETURNING value",
                    )
                    .bind(&counter)
                    .fetch_one(&mut *connection)
                    .await?;
                    document.sort = number;
                    document.key = super::numbered_key(&document.key, number);
                    insert(connection, document).await?;
                }
                Write::InsertNumberedBatch { counter, documents } => {
                    if documents.is_empty() {
                        return Ok(());
                    }
                    let count = i64::try_from(documents.len()).unwrap_or(i64::MAX);
                    let last = sqlx::query_scalar::<_, i64>(
                        "INSERT INTO counters (name, value) VALUES ($1, $2) ON CONFLICT (name) \
                         DO UPDATE SET value = counters.value + $2 RETURNING value",
                    )
                    .bind(&counter)
                    .bind(count)
                    .fetch_one(&mut *connection)
                    .await?;
                    let mut number = last - count;
                    let mut documents = documents;
                    for document in &mut documents {
                        number += 1;
                        document.sort = number;
                        document.key = super::numbered_key(&document.key, number);
                    }
                    for rows in documents.chunks(INSERT_BATCH_ROWS) {
                        insert_rows(connection, rows).await?;
                    }
                }
                Write::Insert(document) => insert(connection, document).await?,
                Write::Update { document, expected_version } => {
                    let result = sqlx::query(UPDATE_DOCUMENT)
                        .bind(&document.kind)
                        .bind(&document.key)
                        .bind(&document.parent)
                        .bind(document.sort)
                        .bind(document.body.to_string())
                        .bind(expected_version)
                        .execute(&mut *connection)
                        .await?;
                    if result.rows_affected() == 0 {
                        let exists =
                            sqlx::query("SELECT 1 FROM documents WHERE kind = $1 AND key = $2")
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
                    sqlx::query(PUT_DOCUMENT)
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
                    let result = sqlx::query(ENQUEUE_JOB)
                        .bind(&job.id)
                        .bind(&job.kind)
                        .bind(labels_json(&job.labels))
                        .bind(job.payload.to_string())
                        .bind(job.enqueued_at)
                        .execute(&mut *connection)
                        .await?;
                    if result.rows_affected() == 0 {
                        return Err(StoreError::AlreadyExists {
                            kind: JOB_KIND.to_owned(),
                            key: job.id,
                        });
                    }
                }
                Write::CompleteJob { job_id } => {
                    sqlx::query("DELETE FROM jobs WHERE id = $1")
                        .bind(job_id)
                        .execute(&mut *connection)
                        .await?;
                }
                Write::ReleaseJob { job_id } => {
                    sqlx::query(
                        "UPDATE jobs SET agent_id = NULL, lease_until = NULL WHERE id = $1",
                    )
                    .bind(job_id)
                    .execute(&mut *connection)
                    .await?;
                }
                Write::LeaseJob { job_id, agent_id, now, lease_until } => {
                    let result = sqlx::query(
                        "UPDATE jobs SET agent_id = $2, lease_until = $3, \
                         attempts = attempts + 1 \
                         WHERE id = $1 AND (lease_until IS NULL OR lease_until < $4)",
                    )
                    .bind(&job_id)
                    .bind(agent_id)
                    .bind(lease_until)
                    .bind(now)
                    .execute(&mut *connection)
                    .await?;
                    if result.rows_affected() == 0 {
                        return Err(job_missing_or_taken(connection, job_id).await?);
                    }
                }
                Write::RenewLease { job_id, agent_id, lease_until } => {
                    let result = sqlx::query(
                        "UPDATE jobs SET lease_until = $3 WHERE id = $1 AND agent_id = $2",
                    )
                    .bind(&job_id)
                    .bind(agent_id)
                    .bind(lease_until)
                    .execute(&mut *connection)
                    .await?;
                    if result.rows_affected() == 0 {
                        return Err(StoreError::Conflict {
                            kind: JOB_KIND.to_owned(),
                            key: job_id,
                        });
                    }
                }
                Write::AppendLog { stream, seq, data } => {
                    let result = sqlx::query(
                        "INSERT INTO log_chunks (stream, seq, data) VALUES ($1, $2, $3) \
                         ON CONFLICT (stream, seq) DO NOTHING",
                    )
                    .bind(&stream)
                    .bind(seq)
                    .bind(data)
                    .execute(&mut *connection)
                    .await?;
                    if result.rows_affected() == 0 {
                        return Err(StoreError::AlreadyExists {
                            kind: LOG_KIND.to_owned(),
                            key: log_key(&stream, seq),
                        });
                    }
                }
                Write::DeleteLog { stream } => {
                    sqlx::query("DELETE FROM log_chunks WHERE stream = $1")
                        .bind(stream)
                        .execute(&mut *connection)
                        .await?;
                }
                Write::DeleteChildren { kind, parent } => {
                    sqlx::query("DELETE FROM documents WHERE kind = $1 AND parent = $2")
                        .bind(kind)
                        .bind(parent)
                        .execute(&mut *connection)
                        .await?;
                }
            }
            Ok(())
        }
    };
}

pub(super) use {apply_one, shared_reads, shared_writes};
